"""Where a form may send the browser afterwards (``next=``): only back to a page of this site.

A ``next`` value comes from the request and can be forged, so an absolute address, a
scheme-relative ``//host``, a backslash variant or ``javascript:`` is ignored and the page's
default is used (Django's ``url_has_allowed_host_and_scheme``, as its login view does).
"""

from __future__ import annotations

import re

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_next(request: HttpRequest, default: str, field: str = "next") -> str:
    """The ``next`` address of a POST (or GET) if it is a relative address on this site,
    else ``default``."""
    target = request.POST.get(field) or request.GET.get(field) or ""
    # Relative addresses only: a same-host absolute URL would be allowed by the check but
    # would trust the Host header for where to go.
    if (
        target.startswith("/")
        and not _CONTROL.search(target)  # a newline would break the Location header
        and url_has_allowed_host_and_scheme(target, allowed_hosts=None, require_https=request.is_secure())
    ):
        return target
    return default
