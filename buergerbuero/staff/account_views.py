"""Staff accounts: login (throttled), second factor, password change, lockout page.

Thin: the rules are in :mod:`buergerbuero.staff.second_factor` and
:mod:`buergerbuero.staff.sessions`; throttling is django-axes' (it counts every failed
``authenticate`` call, so the password confirmations below go through ``authenticate`` too).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import django_otp
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.contrib.auth.models import AbstractBaseUser
from django.core.validators import MaxLengthValidator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from buergerbuero.audit.services import record
from buergerbuero.staff import second_factor

# Audit actions of this module (logins and lockouts are recorded by the audit app's signals).
AUDIT_2FA_ENABLED = "account.2fa_enabled"
AUDIT_2FA_DISABLED = "account.2fa_disabled"
AUDIT_CODES_RENEWED = "account.2fa_codes_renewed"
AUDIT_2FA_FAILED = "account.2fa_failed"
AUDIT_PASSWORD_CHANGED = "account.password_changed"  # noqa: S105  (an action name)


class TokenForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        user = self.request.user
        confirmed = authenticate(self.request, username=user.get_username(), password=password)
        if confirmed is None or confirmed.pk != user.pk:
            raise forms.ValidationError(_("The password is not correct."), code="wrong_password")
        return password


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """The old password is checked through ``authenticate``, so guesses count as failures."""

    def __init__(self, user: AbstractBaseUser, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self) -> str:
        old_password: str = self.cleaned_data["old_password"]
        confirmed = authenticate(self.request, username=self.user.get_username(), password=old_password)
        if confirmed is None or confirmed.pk != self.user.pk:
            raise forms.ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password


# --- login, lockout, admin login --------------------------------------------------------------
class StaffLoginForm(AuthenticationForm):
    """Django's login form sets the name's maximum length on the widget only; a longer name
    would reach ``authenticate`` and the failure records (axes' column holds 255 characters,
    PostgreSQL refuses more with an error). Here it is refused as a field error first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        if isinstance(username, forms.CharField) and username.max_length is not None:
            username.validators.append(MaxLengthValidator(username.max_length))


class StaffLoginView(auth_views.LoginView):
    template_name = "staff/login.html"
    form_class = StaffLoginForm


def admin_login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """The admin's own login would skip our login page: send it there, keeping ``next``."""
    target = request.GET.get("next") or reverse("admin:index")
    return HttpResponseRedirect(f"{reverse('staff:login')}?{urlencode({'next': target})}")


def admin_password_change(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """One password page for everyone (its old-password check is throttled)."""
    return redirect("staff:password_change")


# --- second factor ------------------------------------------------------------------------------
def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL)


@sensitive_post_parameters("token")
@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """Second step of the login: the app's code or a recovery code."""
    user = request.user
    assert isinstance(user, AbstractBaseUser)  # noqa: S101  (login_required)
    if second_factor.app_of(user) is None:
        return redirect(f"{reverse('staff:setup')}?{urlencode({'next': _next_url(request)})}")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = second_factor.verify(user, form.cleaned_data["token"])
        if device is not None:
            django_otp.login(request, device)
            request.session.cycle_key()  # a new privilege level gets a new session id
            if device.name == second_factor.CODES_NAME:
                left = second_factor.remaining_recovery_codes(user)
                messages.warning(
                    request,
                    ngettext(
                        "You used a recovery code; %(count)d is left.",
                        "You used a recovery code; %(count)d are left.",
                        left,
                    )
                    % {"count": left},
                )
            return HttpResponseRedirect(_next_url(request))
        record(AUDIT_2FA_FAILED, actor=user, request=request)
        form.add_error("token", _("This code is not valid. Please try again."))
    return render(request, "staff/verify.html", {"form": form, "next": _next_url(request)})


@sensitive_post_parameters("token")
@login_required
def setup(request: HttpRequest) -> HttpResponse:
    """Set up the authenticator app: QR code and secret, confirmed by its first code."""
    user = request.user
    assert isinstance(user, AbstractBaseUser)  # noqa: S101  (login_required)
    if second_factor.app_of(user) is not None:
        # Only through removal (with the password) can a confirmed app be replaced.
        return redirect("staff:security")
    device = second_factor.pending_app(user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        enrolment = second_factor.confirm_app(user, form.cleaned_data["token"])
        if enrolment is not None:
            django_otp.login(request, enrolment.device)
            request.session.cycle_key()
            record(AUDIT_2FA_ENABLED, actor=user, request=request)
            return render(
                request,
                "staff/recovery_codes.html",
                {"codes": enrolment.recovery_codes, "next": _next_url(request), "first": True},
            )
        form.add_error("token", _("This code is not valid. Please try again."))
    return render(
        request,
        "staff/setup.html",
        {
            "form": form,
            "qr": second_factor.qr_svg(device, _("QR code for your authenticator app")),
            "secret": second_factor.secret_text(device),
            "next": _next_url(request),
            "required": second_factor.required(user),
        },
    )


@login_required
def security(request: HttpRequest) -> HttpResponse:
    """The person's own account: password, second factor, recovery codes."""
    return _security_page(request, PasswordConfirmForm(request))


@sensitive_post_parameters("password")
@require_POST
@login_required
def renew_codes(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, AbstractBaseUser)  # noqa: S101  (login_required)
    form = PasswordConfirmForm(request, request.POST)
    if second_factor.app_of(user) is None or not form.is_valid():
        return _security_page(request, form, status=400)
    codes = second_factor.new_recovery_codes(user)
    record(AUDIT_CODES_RENEWED, actor=user, request=request)
    return render(
        request,
        "staff/recovery_codes.html",
        {"codes": codes, "next": reverse("staff:security"), "first": False},
    )


@sensitive_post_parameters("password")
@require_POST
@login_required
def remove(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, AbstractBaseUser)  # noqa: S101  (login_required)
    form = PasswordConfirmForm(request, request.POST)
    if not form.is_valid():
        return _security_page(request, form, status=400)
    if second_factor.remove(user):
        record(AUDIT_2FA_DISABLED, actor=user, request=request)
    messages.success(request, _("The authenticator app and the recovery codes were removed."))
    if second_factor.required(user):
        return redirect("staff:setup")
    return redirect("staff:security")


def _security_page(request: HttpRequest, form: PasswordConfirmForm, status: int = 200) -> HttpResponse:
    user = request.user
    return render(
        request,
        "staff/security.html",
        {
            "app": second_factor.app_of(user),
            "required": second_factor.required(user),
            "codes_left": second_factor.remaining_recovery_codes(user),
            "form": form,
        },
        status=status,
    )


# --- password -------------------------------------------------------------------------------------
class StaffPasswordChangeView(auth_views.PasswordChangeView):
    template_name = "staff/password_change.html"
    form_class = ThrottledPasswordChangeForm
    success_url = reverse_lazy("staff:security")

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form: ThrottledPasswordChangeForm) -> HttpResponse:
        response = super().form_valid(form)
        record(AUDIT_PASSWORD_CHANGED, actor=self.request.user, request=self.request)
        messages.success(self.request, _("Your password was changed."))
        return response
