from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from buergerbuero.booking.services import Contact, check_contact
from buergerbuero.orgs.models import Organization


class ContactForm(forms.Form):
    """The citizen's details; the rules are ``booking.services.check_contact``."""

    name = forms.CharField(
        label=_("Your name"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.CharField(
        label=_("E-mail address"),
        required=False,
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label=_("Mobile number (for an SMS)"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
        help_text=_("German numbers without +49 are fine, e.g. 0151 23456789."),
    )
    language = forms.ChoiceField(label=_("Language of the messages and the consultation"), choices=())
    consent = forms.BooleanField(required=False)  # its label names the retention days: see __init__

    def __init__(self, organization: Organization, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        offered = set(organization.language_codes)
        language = self.fields["language"]
        assert isinstance(language, forms.ChoiceField)  # noqa: S101  (declared above)
        language.choices = [(code, name) for code, name in settings.LANGUAGES if code in offered]
        consent = self.fields["consent"]
        days = settings.APPOINTMENT_RETENTION_DAYS
        consent.label = ngettext(
            "I agree that my details are processed to arrange this appointment. They are deleted "
            "at the latest %(days)s day after the appointment.",
            "I agree that my details are processed to arrange this appointment. They are deleted "
            "at the latest %(days)s days after the appointment.",
            days,
        ) % {"days": days}
        self.contact: Contact | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        contact = check_contact(
            Contact(
                name=data.get("name", ""),
                email=data.get("email", ""),
                phone=data.get("phone", ""),
                language=data.get("language", ""),
                consent=bool(data.get("consent")),
            ),
            self.organization,
        )
        for field, message in contact.errors.items():
            if field not in self.errors:
                self.add_error(field, message)
        self.contact = contact
        return data
