"""13 C.7 for the ChatPanel: its rendered HTML (render.py) laid out by real Chromium with the
bubble's CSS. A U+202E RIGHT-TO-LEFT OVERRIDE inside ``code``, a link or bold text must not
reorder the words after that element (it did while inline elements carried no isolation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chatkit_widgets.render import render_markdown, render_plain

pytestmark = pytest.mark.browser

CSS = (Path(__file__).parents[3] / "widgets" / "chatkit_widgets" / "bubble.css").read_text()
RLO = "\u202e"
# x of each character of the text that follows the first element in the paragraph.
AFTER_ELEMENT = """() => {
    const text = document.querySelector('.chatkit-body p > :first-child').nextSibling;
    const xs = [];
    for (let i = 0; i < text.data.length; i++) {
        const range = document.createRange();
        range.setStart(text, i);
        range.setEnd(text, i + 1);
        if (text.data[i].trim()) xs.push(range.getBoundingClientRect().x);
    }
    return xs;
}"""


@pytest.fixture(scope="module")
def page(chromium: Any) -> Any:
    page = chromium.new_page()
    yield page
    page.close()


def show(page: Any, html: str) -> None:
    page.set_content(
        f'<style>{CSS}</style><div class="chatkit-msg" data-role="assistant">'
        f'<div class="chatkit-body">{html}</div></div>'
    )


@pytest.mark.parametrize(
    "markdown",
    [
        f"`ab{RLO}cd` 뒤의 말 after",
        f"**굵게{RLO}** 뒤의 말 after",
        f"[링크{RLO}](https://a.b) 뒤의 말 after",
    ],
)
def test_an_override_inside_markup_does_not_flip_the_words_after_it(page: Any, markdown: str):
    show(page, render_markdown(markdown))
    xs = page.evaluate(AFTER_ELEMENT)
    assert len(xs) >= 5 and xs == sorted(xs), xs  # left to right, in reading order


def test_plain_text_isolates_per_line(page: Any):
    show(page, render_plain(f"첫 줄 {RLO}뒤집힘\n둘째 줄 normal"))
    plain = page.locator(".chatkit-plain")
    assert plain.get_attribute("dir") == "auto"
    assert plain.evaluate("e => getComputedStyle(e).unicodeBidi") == "plaintext"
