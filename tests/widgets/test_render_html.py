"""render.py: Markdown with raw HTML escaped, then sanitised (pure functions)."""

from __future__ import annotations

import pytest
from chatkit_widgets.render import render_markdown, render_plain, sanitize
from chatkit_widgets.testing import parse_html

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<iframe src=//evil.example></iframe>",
    "<svg onload=alert(1)>",
    '<div style="position:fixed;inset:0" onclick="x()">덮기</div>',
]


def assert_inert(fragment: str) -> None:
    """Only harmless elements, no event handlers, no styles beyond table alignment."""
    for tag, attrs in parse_html(fragment).elements:
        assert tag not in {"img", "script", "iframe", "svg", "style", "object", "embed"}, tag
        assert not any(name.startswith("on") for name in attrs), attrs
        assert attrs.get("style") in (None, "text-align:left", "text-align:right")


@pytest.mark.parametrize("attack", HOSTILE)
@pytest.mark.parametrize("render", [render_markdown, render_plain])
def test_raw_html_is_shown_as_text_never_as_an_element(render, attack):
    out = render(f"질문 {attack} 끝")
    assert_inert(out)
    assert attack in parse_html(out).text  # visible, character for character


def test_markdown_is_rendered():
    out = render_markdown("# 제목\n\n**굵게** `코드`\n\n- 하나\n\n| a | b |\n|:-|-:|\n| 1 | 2 |")
    for fragment in ("<h1>제목</h1>", "<strong>굵게</strong>", "<code>코드</code>", "<li>하나"):
        assert fragment in out
    assert '<th style="text-align:left">a</th>' in out


def test_links_are_safe_and_images_are_not_loaded():
    out = render_markdown(
        "[문서](https://example.com) [나쁨](javascript:alert(1)) ![x](https://t/x.png)"
    )
    links = [attrs for tag, attrs in parse_html(out).elements if tag == "a"]
    assert {a.get("href") for a in links} == {"https://example.com", "https://t/x.png"}
    for attrs in links:
        assert attrs["rel"] == "noopener noreferrer nofollow" and attrs["target"] == "_blank"
    assert_inert(out)


def test_code_blocks_keep_angle_brackets_as_text():
    out = render_markdown("```python\nif a < b: print('<b>')\n```")
    assert "<pre><code>" in out and parse_html(out).text == "if a < b: print('<b>')\n"


def test_sanitizer_keeps_only_the_allow_list():
    dirty = '<p class="jp-Dialog" style="color:red" onclick="x()">안녕<img src=x></p><b>굵게</b>'
    assert sanitize(dirty) == "<p>안녕</p>굵게"


def test_plain_text_keeps_line_breaks_and_spaces():
    assert render_plain("가\n  나") == '<div class="chatkit-plain">가\n  나</div>'
