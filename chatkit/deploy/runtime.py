"""The Lambda runtime's Python on this machine: find ``python3.12``, unpack a bundle, and
time a cold import of the handlers from it (nothing from this repository on the path).

    >>> python = find_python312()                        # doctest: +SKIP
    >>> bundle_dir = unpack(Path("build/lambda/chatkit-lambda-….zip"))  # doctest: +SKIP
    >>> measure_cold_import(bundle_dir, python)          # doctest: +SKIP
    ImportTimes(handlers_ms=182.0, chat_path_ms=2310.0)
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..config import DEFAULT_REGION

__all__ = [
    "LAMBDA_ENV",
    "LAMBDA_PYTHON",
    "ImportTimes",
    "RuntimeNotFound",
    "find_python312",
    "isolated_command",
    "measure_cold_import",
    "unpack",
]

#: The Lambda runtime of infra/template.yaml (``Runtime: python3.12``).
LAMBDA_PYTHON = (3, 12)

#: An environment like a deployed function's at init, offline: AWS mode, placeholder keys
#: (nothing is called), no AWS config files, no instance metadata. Add ``_HANDLER`` (as
#: Lambda sets it) to run a function's init.
LAMBDA_ENV = {
    "CHATKIT_MODE": "aws",
    "AWS_REGION": DEFAULT_REGION,
    "AWS_DEFAULT_REGION": DEFAULT_REGION,
    "AWS_ACCESS_KEY_ID": "init",
    "AWS_SECRET_ACCESS_KEY": "init",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}

#: Run a script with only the bundle and the standard library importable: ``-I`` drops
#: the script's directory, PYTHONPATH and user site-packages; ``-S`` drops site-packages.
_ISOLATED = ("-I", "-S")


class RuntimeNotFound(RuntimeError):
    """No Python 3.12 on this machine."""

    def __init__(self) -> None:
        super().__init__(
            "python3.12을 찾지 못했습니다. pyenv 등으로 설치하거나 CHATKIT_PYTHON312에 경로를 "
            "지정하세요. (python3.12 not found: install it, e.g. with pyenv, or set "
            "CHATKIT_PYTHON312 to its path.)"
        )


def _version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.stdout.split()
    return (int(parts[0]), int(parts[1])) if out.returncode == 0 and len(parts) == 2 else None


def find_python312() -> str:
    """Path of a working Python 3.12: ``$CHATKIT_PYTHON312``, this interpreter if it is
    3.12, ``python3.12`` on PATH (pyenv shims may refuse), then pyenv's versions.
    Raises :class:`RuntimeNotFound`."""
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates = [
        os.environ.get("CHATKIT_PYTHON312"),
        sys.executable if sys.version_info[:2] == LAMBDA_PYTHON else None,
        shutil.which("python3.12"),
        *sorted(glob.glob(f"{pyenv_root}/versions/3.12.*/bin/python3.12"), reverse=True),
    ]
    for candidate in candidates:
        if candidate and _version(candidate) == LAMBDA_PYTHON:
            return candidate
    raise RuntimeNotFound


def isolated_command(
    python: str, bundle_dir: Path, script: str, flags: tuple[str, ...] = ()
) -> list[str]:
    """``python`` running ``script`` with ``bundle_dir`` first on ``sys.path`` (like
    ``/var/task`` on Lambda) and nothing else but the standard library."""
    prelude = f"import sys; sys.path.insert(0, {str(bundle_dir)!r}); "
    return [python, *_ISOLATED, *flags, "-c", prelude + script]


def unpack(zip_path: Path) -> Path:
    """Extract ``zip_path`` once into ``<dir>/unpacked/<zip name>/`` and return that
    directory (atomic: a half-extracted directory is never used)."""
    target = zip_path.parent / "unpacked" / zip_path.stem
    if target.is_dir():
        return target
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as bundle:
        bundle.extractall(partial)
    try:
        partial.rename(target)
    except OSError:  # another process finished first
        shutil.rmtree(partial, ignore_errors=True)
    return target


@dataclass(frozen=True)
class ImportTimes:
    """Cold import times in a fresh interpreter, milliseconds."""

    #: ``import chatkit.aws.handlers`` — a function's init (the chat function's builds the
    #: chat path in it: what a SnapStart snapshot holds).
    handlers_ms: float
    #: then ``chatkit.session`` + ``langchain_aws`` — what is left for the first chat, after
    #: a restore (nothing once the init loaded it).
    chat_path_ms: float

    def __str__(self) -> str:
        return (
            f"핸들러 import (init) {self.handlers_ms:.0f} ms · "
            f"첫 채팅 경로 (first chat path) +{self.chat_path_ms:.0f} ms"
        )


_TIMER = """
import json, time
t0 = time.perf_counter()
import chatkit.aws.handlers
t1 = time.perf_counter()
import chatkit.session, langchain_aws
t2 = time.perf_counter()
assert chatkit.__file__.startswith(sys.path[0]), chatkit.__file__
print(json.dumps({"handlers_ms": (t1 - t0) * 1000, "chat_path_ms": (t2 - t1) * 1000}))
"""


def measure_cold_import(
    bundle_dir: Path, python: str, *, use_pyc: bool = True, handler: str | None = None
) -> ImportTimes:
    """Time the handler imports in a new ``python`` process that sees only the bundle.

    ``use_pyc=False`` ignores the bundle's ``.pyc`` files (every module compiled from
    source, as on Lambda for a bundle built without them): the benchmark's baseline.
    ``handler`` (e.g. ``"chatkit.aws.handlers.ws_default"``) runs that function's init as
    Lambda does (``_HANDLER`` set, :data:`LAMBDA_ENV`); None: the import alone.
    """
    with tempfile.TemporaryDirectory() as empty:
        flags = () if use_pyc else ("-B", "-X", f"pycache_prefix={empty}")
        result = subprocess.run(
            isolated_command(python, bundle_dir, _TIMER, flags),
            capture_output=True,
            text=True,
            timeout=120,
            env={
                "PATH": os.environ.get("PATH", ""),
                "LANG": "C.UTF-8",
                **({**LAMBDA_ENV, "_HANDLER": handler} if handler else {}),
            },
        )
    if result.returncode != 0:
        raise RuntimeError(f"import from the bundle failed:\n{result.stderr[-2000:]}")
    return ImportTimes(**json.loads(result.stdout))
