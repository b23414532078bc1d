"""What the browser may do on our pages: ``Content-Security-Policy`` and ``Permissions-Policy``.

The policies themselves are settings (``CONTENT_SECURITY_POLICY``, ``PERMISSIONS_POLICY``);
per response there are exactly two exceptions, each in one place:

- who may frame a page (``frame-ancestors``): :mod:`buergerbuero.embed.framing`;
- camera, microphone and screen capture: :func:`allow_devices`, for the consultation page only
  (its pre-call check included).

A response that sets its own ``Content-Security-Policy`` (uploaded media: ``sandbox;
default-src 'none'``) keeps it: django-csp never writes over an existing header.
"""

from __future__ import annotations

from typing import Any

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django_permissions_policy import PermissionsPolicyMiddleware

# The consultation's own: the call, the pre-call check, screen sharing.
DEVICES = ("camera", "microphone", "display-capture")


def allow_devices(response: HttpResponseBase) -> HttpResponseBase:
    """Camera, microphone and screen capture for this page, on our own origin.

    ``self`` is enough inside an embedding website's frame too: a framed document's header
    speaks for its own origin (ours); the website grants the frame the features through the
    iframe's ``allow`` attribute (``embed.js``), and both must agree.
    """
    policy: dict[str, Any] = {**settings.PERMISSIONS_POLICY, **{feature: ["self"] for feature in DEVICES}}
    header = PermissionsPolicyMiddleware.compute_header_value(policy, name="allow_devices")
    # django-permissions-policy's per-response override (what its decorator sets).
    response._permissions_policy_override = header  # type: ignore[attr-defined]
    return response


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with a nonce in every policy.

    django-csp adds the nonce only when a template used it; ours is always there, so that a
    page (or an error page) may carry a nonce-bearing ``<style>`` or ``<script>`` without
    anything else to remember. Nonces are fresh per response.
    """

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        str(request.csp_nonce)  # type: ignore[attr-defined]  # evaluate the lazy nonce now
