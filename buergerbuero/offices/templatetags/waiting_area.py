"""``{{ text|markdown }}``: the office lead's Markdown as safe HTML (``markdown`` renders,
``nh3`` keeps only harmless tags, so no script, style or tracking pixel reaches a citizen)."""

from __future__ import annotations

import markdown as markdown_lib
import nh3
from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "h2", "h3", "h4", "blockquote", "code", "hr"}
ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"https", "http", "mailto", "tel"}


def render_markdown(text: str) -> SafeString:
    html = markdown_lib.markdown(text, output_format="html")
    # Headings start at level 2: the page has its own h1.
    html = html.replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    cleaned = nh3.clean(
        html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES, link_rel="noopener noreferrer"
    )
    return mark_safe(cleaned)  # noqa: S308  (sanitised by nh3 just above)


@register.filter
def markdown(text: str) -> SafeString:
    return render_markdown(text or "")


@register.filter
def lines(text: str) -> list[str]:
    return [line.strip().lstrip("-*• ").strip() for line in (text or "").splitlines() if line.strip()]
