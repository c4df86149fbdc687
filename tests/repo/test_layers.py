"""The layer contract (scripts/check_layers.py, run by ``make lint``): the tree keeps it, and
the checker does catch an upward import, a private reach and a cycle."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check_layers.py"


def _checker():
    spec = importlib.util.spec_from_file_location("check_layers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"widgets/chatkit_widgets/__init__.py": "", **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_tree_keeps_the_layers() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == "layers: ok"


def test_an_upward_import_a_private_reach_and_a_cycle_are_caught(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "chatkit/__init__.py": "",
            "chatkit/config.py": "def ready():\n    from .local import start\n",
            "chatkit/session.py": "import IPython\nfrom chatkit.memory import x\n",
            "chatkit/memory.py": "from .session import y\n",
            "chatkit/local/__init__.py": "from ._server import start\n",
            "chatkit/local/_server.py": "start = 1\n",
            "chatkit/cli.py": "from chatkit.local._server import start\n",
        },
    )
    found = _checker().violations(root)
    assert any("chatkit.config (core) imports upward chatkit.local (local)" in f for f in found)
    assert any("core module chatkit.session imports IPython" in f for f in found)
    assert any("chatkit.cli imports private chatkit.local._server" in f for f in found)
    assert "import cycle among: chatkit.memory, chatkit.session" in found
    assert not any("chatkit.local imports private" in f for f in found)  # its own package
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1 and "layers: 4 violation(s)" in result.stdout


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "chatkit/__init__.py": "",
            "chatkit/config.py": "import os\n",
            "chatkit/local/__init__.py": "from ..config import os\n",
            "chatkit/cli.py": "from chatkit.local import os\n",
        },
    )
    assert _checker().violations(root) == []
