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
    for tag, text in (
        ("h1", "제목</h1>"),
        ("strong", "굵게</"),
        ("code", "코드</"),
        ("li", "하나"),
    ):
        assert f'<{tag} dir="auto">{text}' in out
    assert '<th style="text-align:left" dir="auto">a</th>' in out


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
    assert (
        '<pre dir="auto"><code dir="auto">' in out
        and parse_html(out).text == "if a < b: print('<b>')\n"
    )


def test_sanitizer_keeps_only_the_allow_list():
    dirty = '<p class="jp-Dialog" style="color:red" onclick="x()">안녕<img src=x></p><b>굵게</b>'
    assert sanitize(dirty) == '<p dir="auto">안녕</p>굵게'


def test_plain_text_keeps_line_breaks_and_spaces():
    assert render_plain("가\n  나") == '<div class="chatkit-plain" dir="auto">가\n  나</div>'


RLO, PDF = "\u202e", "\u202c"


@pytest.mark.parametrize(
    "text",
    [
        f"파일 `ab{RLO}cd` 입니다",
        f"**굵게{RLO}** 뒤의 글 [링크{RLO}](https://example.com) 끝",
        f"# 제목{RLO}\n\n| 칸{RLO} | b |\n|-|-|\n| 1 | 2 |\n\n- 항목{RLO}\n\n> 인용{RLO}",
        f"<b>{RLO}태그</b> {RLO}\n둘째 줄",
    ],
)
@pytest.mark.parametrize("render", [render_markdown, render_plain])
def test_every_element_isolates_its_text(render, text):
    """13 C.7: each element is a bidi isolate with its own direction (``dir="auto"``; browsers
    give ``[dir]`` ``unicode-bidi: isolate``), so an override inside ``code``, a link or bold
    text cannot reorder the words after it; the characters themselves are kept."""
    out = render(text)
    elements = parse_html(out).elements
    assert elements
    for tag, attrs in elements:
        assert attrs.get("dir") == "auto", (tag, attrs)
    assert parse_html(out).text.count(RLO) == text.count(RLO)


def test_a_dir_attribute_from_the_text_is_replaced():
    assert (
        sanitize(f'<p dir="rtl">{RLO}가</p><bdo dir="rtl">나</bdo>')
        == f'<p dir="auto">{RLO}가</p>나'
    )
