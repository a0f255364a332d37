"""Template filters for chat rows and message rows; cheap, since a page renders a hundred."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from mailcore import text

register = template.Library()


@register.filter(is_safe=True)
def text_html(value: str) -> SafeString:
    """Plain text as HTML: escaped, URLs and e-mail addresses as links, line breaks as <br>.

    What `urlize|linebreaksbr` did, for a fraction of the cost.
    """
    html = text.linkify(str(value))
    return mark_safe(html.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>"))
