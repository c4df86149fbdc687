"""ChatPanel in a real JupyterLab, driven by headless Chromium: the only proof that the
front end (bubble.js, composer.js) works.

The test starts JupyterLab on loopback with a token and a fresh config dir, opens a notebook
whose first cell is ``ChatPanel()`` (offline mode, no AWS credentials in the environment),
types a Korean question through an emulated IME (the send must wait for the composition),
sends it with Ctrl+Enter, watches the answer grow in the page, clicks stop, checks the
stored turn from the kernel, checks that hostile HTML stays text, copies an answer (the
clipboard holds its raw text), regenerates it, and saves ``artifacts/panel.png``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from browser_kit import start_jupyterlab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN = "chatkit-browser-test"
USER = "browser-test"
DIRECTIVES = "!rate 20 !long 600 "
QUESTION = "서울 여행 추천해줘"
HOSTILE = "!rate 0 <img src=x onerror=window.__xss=1>"
CELLS = [
    "from chatkit_widgets import ChatPanel\npanel = ChatPanel()\npanel",
    "import json\n"
    "turn = panel.session.history.page(panel.user_id, limit=1).items[0]\n"
    "print('STORED', json.dumps([turn.status, turn.answer, panel.messages[-1]['text']]))",
]
INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"


@dataclass
class Lab:
    url: str
    log: Path


def _lab_env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHATKIT_"))}
    env.update(
        CHATKIT_MODE="offline",
        CHATKIT_USER=USER,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_RUNTIME_DIR=str(config / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    return env


def _write_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 with a token; stopped with SIGTERM (it stops its kernels)."""
    root, config = tmp_path_factory.mktemp("lab-root"), tmp_path_factory.mktemp("lab-config")
    _write_notebook(root / "panel.ipynb")
    expose = "--LabApp.expose_app_in_browser=True"
    with start_jupyterlab(root, config, TOKEN, _lab_env(config), expose) as base:
        yield Lab(f"{base}/lab/tree/panel.ipynb?token={TOKEN}", config / "lab.log")


def _kernel_idle(page) -> None:
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => {
            const t = e.textContent.trim();
            return t.endsWith('| Idle') && !t.startsWith('No Kernel');
        })""",
        timeout=30_000,
    )


def _run_cell(page, index: int) -> None:
    # Not awaited: page.evaluate has no timeout and the promise hangs if a dialog opens.
    page.evaluate(
        """(i) => { const nb = jupyterapp.shell.currentWidget.content; nb.activeCellIndex = i;
                    jupyterapp.commands.execute('notebook:run-cell'); return null; }""",
        index,
    )


def _type_korean(cdp, text: str, *, keep_last_composing: bool = False) -> None:
    """Type like a 2-beolsik IME: each syllable composed (initial jamo, then the syllable),
    then committed; spaces are plain text."""
    for n, char in enumerate(text):
        if not "가" <= char <= "힣":
            cdp.send("Input.insertText", {"text": char})
            continue
        for stage in (INITIALS[(ord(char) - 0xAC00) // 588], char):
            cdp.send(
                "Input.imeSetComposition", {"text": stage, "selectionStart": 1, "selectionEnd": 1}
            )
        if not (keep_last_composing and n == len(text) - 1):
            cdp.send("Input.insertText", {"text": char})


def test_chat_panel_streams_and_stops_in_jupyterlab(jupyterlab, chromium, artifacts):
    context = chromium.new_context(
        viewport={"width": 1280, "height": 1000},
        locale="ko-KR",
        permissions=["clipboard-read", "clipboard-write"],
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(jupyterlab.url)
        _kernel_idle(page)
        _run_cell(page, 0)
        area = page.locator(".chatkit-composer textarea")
        area.wait_for(state="visible")
        assert "browser-test" in page.locator(".chatkit-panel").inner_text()

        # Korean through an (emulated) IME: Ctrl+Enter during a composition must not send.
        area.click()
        page.keyboard.insert_text(DIRECTIVES)
        cdp = context.new_cdp_session(page)
        _type_korean(cdp, QUESTION, keep_last_composing=True)
        page.keyboard.press("Control+Enter")
        page.wait_for_timeout(300)
        assert page.locator('.chatkit-msg[data-role="user"]').count() == 0
        cdp.send("Input.insertText", {"text": QUESTION[-1]})  # the IME commits "줘"
        assert area.input_value() == DIRECTIVES + QUESTION
        page.keyboard.press("Control+Enter")

        user = page.locator('.chatkit-msg[data-role="user"]').last
        user.wait_for()
        assert user.inner_text().strip() == DIRECTIVES + QUESTION  # exact, no half syllable
        page.wait_for_function("() => !document.querySelector('.chatkit-composer textarea').value")

        # The answer grows in the page while it streams.
        streaming = page.locator('.chatkit-msg[data-status="streaming"] .chatkit-stream')
        streaming.wait_for()
        # The first answer of a fresh kernel also imports langchain-aws: wait for its start.
        page.wait_for_function(
            """() => document.querySelector('.chatkit-msg[data-status="streaming"] .chatkit-stream')
                        ?.textContent.length > 0""",
            timeout=30_000,
        )
        lengths = [len(streaming.inner_text())]
        for _ in range(2):  # it grows twice more while the answer is still streaming
            page.wait_for_function(
                """(n) => document.querySelector(
                    '.chatkit-msg[data-status="streaming"] .chatkit-stream'
                )?.textContent.length > n""",
                arg=lengths[-1],
            )
            lengths.append(len(streaming.inner_text()))
        assert lengths == sorted(lengths) and len(set(lengths)) == 3, lengths
        assert page.locator("button.chatkit-send").is_disabled()

        page.locator("button.chatkit-stop").click()  # stop latency: benchmarks/widget.py
        stopped = page.locator('.chatkit-msg[data-role="assistant"][data-status="interrupted"]')
        stopped.wait_for()
        assert "중단됨" in stopped.locator(".chatkit-footer").inner_text()
        # The answer shows interrupted at once; the panel is idle (its stop button off) once
        # the kernel has stored the partial turn.
        page.wait_for_function("() => document.querySelector('button.chatkit-stop')?.disabled")

        _run_cell(page, 1)  # what the kernel stored
        output = page.locator(".jp-OutputArea-output", has_text="STORED").first
        output.wait_for()
        status, answer, kernel_side = json.loads(output.inner_text().split("STORED", 1)[1])
        assert status == "interrupted" and 0 < len(answer) < 600
        assert answer == kernel_side, (answer, kernel_side)  # stored = the panel's text
        # … and the page shows it all once it has drawn the final state (a frame may pass
        # between the status attribute and the body under load)
        page.wait_for_function(
            """(answer) => {
                const body = document.querySelector(
                    '.chatkit-msg[data-role="assistant"][data-status="interrupted"] .chatkit-body');
                const words = (t) => t.split(/\\s+/).filter(Boolean).join(" ");
                return body && words(body.innerText) === words(answer);
            }""",
            arg=answer,
        )
        shown = stopped.locator(".chatkit-body").inner_text().strip()
        assert len(shown) >= lengths[-1] > 0

        # Hostile HTML in a question (quoted back by the demo model) stays visible text.
        page.locator("button.chatkit-send:not([disabled])").wait_for()
        area.fill(HOSTILE)
        page.locator("button.chatkit-send").click()
        page.locator('.chatkit-msg[data-role="assistant"]').nth(1).and_(
            page.locator('[data-status="completed"]')
        ).wait_for()
        assert page.locator(".chatkit-panel img").count() == 0
        assert page.evaluate("() => window.__xss === undefined")
        assert HOSTILE in page.locator('.chatkit-msg[data-role="user"]').last.inner_text()
        hostile_answer = page.locator('.chatkit-msg[data-role="assistant"]').last
        assert "<img src=x" in hostile_answer.inner_text()

        # Copy puts the answer's raw text on the clipboard; regenerate asks again, a new turn.
        hostile_answer.locator("button.chatkit-copy").click()
        hostile_answer.locator("button.chatkit-copy", has_text="복사됨").wait_for()
        copied = page.evaluate("() => navigator.clipboard.readText()")
        shown = hostile_answer.locator(".chatkit-body").inner_text()
        assert "<img src=x" in copied and " ".join(copied.split()) == " ".join(shown.split())
        hostile_answer.locator("button.chatkit-regenerate").click()
        assistants = page.locator('.chatkit-msg[data-role="assistant"]')
        assistants.nth(2).and_(page.locator('[data-status="completed"]')).wait_for()
        users = page.locator('.chatkit-msg[data-role="user"]')
        assert users.count() == 3 and users.last.inner_text().strip() == HOSTILE

        page.screenshot(path=str(artifacts / "panel.png"), full_page=True)
        ours = [e for e in errors if "anywidget" in e or "chatkit" in e]
        assert not ours, ours
    except Exception:
        page.screenshot(path=str(artifacts / "panel-failure.png"), full_page=True)
        print(jupyterlab.log.read_text()[-4000:])
        raise
    finally:
        context.close()
