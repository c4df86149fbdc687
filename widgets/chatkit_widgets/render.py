"""Text → safe HTML for chat bubbles (pure functions, no widgets).

Two layers, so one mistake is not enough to inject markup:

1. Markdown is parsed with markdown-it in CommonMark mode with ``html=False``: raw HTML in a
   question or an answer becomes visible text, never an element. Images are turned off
   (``![x](https://…)`` stays text: a model must not make the browser fetch URLs).
2. The result goes through nh3 (Rust ``ammonia``) with a short allow-list: no ``img``, no
   ``style`` except table alignment, links only ``http``/``https``/``mailto``.

Every element gets ``dir="auto"``: each block and each inline piece (``**굵게**``, a link,
``code``) is a bidi isolate with its own direction, so a bidi control in it (U+202E RIGHT-TO-
LEFT OVERRIDE …) cannot reorder the text around it.

Example::

    >>> render_markdown("**굵게** <img src=x onerror=alert(1)>")
    '<p dir="auto"><strong dir="auto">굵게</strong> &lt;img src=x onerror=alert(1)&gt;</p>'
    >>> render_plain("<b>hi</b>\\n둘째 줄")
    '<div class="chatkit-plain" dir="auto">&lt;b&gt;hi&lt;/b&gt;\\n둘째 줄</div>'
"""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt

__all__ = ["render_markdown", "render_plain", "sanitize"]

ALLOWED_TAGS = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5",
        "h6", "hr", "li", "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td",
        "th", "thead", "tr", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
ALLOWED_CLASSES = {"div": {"chatkit-plain"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})

_markdown = (
    MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    .enable(["table", "strikethrough"])
    .disable("image")
)


def sanitize(fragment: str) -> str:
    """Clean an HTML fragment with nh3 and chatkit's allow-list (links open in a new tab).

    >>> sanitize('<p onclick="x()">안녕</p><script>x()</script>')
    '<p dir="auto">안녕</p>'
    >>> link = sanitize('<a href="javascript:x()">링크</a>')  # attribute order varies
    >>> [part in link for part in ('target="_blank"', 'rel="noopener noreferrer nofollow"', "java")]
    [True, True, False]
    """
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        allowed_classes={tag: set(names) for tag, names in ALLOWED_CLASSES.items()},
        filter_style_properties={"text-align"},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={
            tag: {"dir": "auto", **({"target": "_blank"} if tag == "a" else {})}
            for tag in ALLOWED_TAGS
        },
    )


def render_markdown(text: str) -> str:
    """A finished answer as sanitised HTML (Markdown with raw HTML shown as text)."""
    return sanitize(_markdown.render(text)).strip()


def render_plain(text: str) -> str:
    """Text shown exactly as typed (questions, streaming text): escaped, line breaks kept."""
    return sanitize(f'<div class="chatkit-plain">{html.escape(text, quote=False)}</div>')
