from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from buergerbuero.offices import services as offices
from buergerbuero.offices.models import Office, Service
from buergerbuero.waiting.models import Mode


class EnterForm(forms.Form):
    service = forms.ModelChoiceField(
        queryset=Service.objects.none(),
        label=_("Your concern"),
        empty_label=None,
        widget=forms.RadioSelect,
    )
    display_name = forms.CharField(
        label=_("Name or pseudonym (optional)"),
        required=False,
        max_length=60,
        help_text=_("Only the staff member sees it. You can also stay anonymous."),
        widget=forms.TextInput(attrs={"autocomplete": "nickname"}),
    )
    language = forms.ChoiceField(label=_("Preferred language for the conversation"), choices=())
    mode = forms.ChoiceField(
        label=_("How would you like to talk?"),
        choices=Mode.choices,
        initial=Mode.VIDEO,
        widget=forms.RadioSelect,
    )

    def __init__(self, office: Office, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        services = office.services.all()
        service_field = self.fields["service"]
        assert isinstance(service_field, forms.ModelChoiceField)  # noqa: S101  (declared above)
        service_field.queryset = services
        if not services.exists():
            del self.fields["service"]
        offered = set(office.organization.language_codes)
        language_field = self.fields["language"]
        assert isinstance(language_field, forms.ChoiceField)  # noqa: S101  (declared above)
        language_field.choices = [(code, name) for code, name in settings.LANGUAGES if code in offered]


# The fields of the unbound enter form, rendered once per office, page language and preselected
# language: in a morning rush every citizen GETs the same form, and rendering its radio buttons
# through Django's widget templates (and reading the services for them) was a third of the GET.
# Kept under the office's token (replaced by any change of the office, its organisation, hours
# or services; a new test database's offices get new tokens) and never shared between languages.
_fields: dict[tuple[int, str, str], tuple[object, SafeString]] = {}


def enter_fields(office: Office, language: str) -> SafeString:
    """The enter form's fields as a fresh unbound ``EnterForm(office)`` renders them."""
    token = offices.office_token(office.pk)
    key = (office.pk, translation.get_language(), language)
    cached = _fields.get(key)
    if cached is not None and cached[0] is token:
        return cached[1]
    form = EnterForm(office, initial={"language": language})
    html = render_to_string("waiting/enter_fields.html", {"form": form})
    _fields[key] = (token, html)
    return html
