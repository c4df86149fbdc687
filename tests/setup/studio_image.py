"""A Jupyter server environment pinned like the SageMaker Studio JupyterLab image
(SageMaker Distribution 3.10.0, see docs/workshop.md), built once per pin list and cached
outside the repository.

    >>> python = studio_image_python()                 # doctest: +SKIP
    >>> python
    PosixPath('/root/.cache/chatkit-studio-image/3f…/bin/python')

The cache lives in ``$CHATKIT_STUDIO_IMAGE_CACHE`` (default ``~/.cache/chatkit-studio-image``),
one directory per hash of the pin list. A virtual environment cannot be moved after it is made
(its scripts name their own path), so instead of building elsewhere and renaming, the build
holds a lock file and writes ``complete.json`` last: a directory without it is a broken build
and is made again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from chatkit.deploy.runtime import find_python312

__all__ = ["NO_DEPS", "PINS", "build_info", "studio_image_python"]

#: The image's versions (SageMaker Distribution 3.10.0 RELEASE.md / cpu.env.out).
PINS = (
    "boto3==1.37.3",
    "botocore==1.37.3",
    "s3transfer==0.11.3",
    "aioboto3==14.3.0",
    "langchain==0.3.27",
    "langchain-core==0.3.81",
    "langsmith==0.7.24",
    "jupyter-ai==2.31.7",
    "jupyterlab==4.5.6",
    "ipywidgets==8.1.8",
    "notebook==7.5.5",
    "jupyter-server-proxy==4.5.0",
    "uv",
    "papermill==2.7.0",
    "aiohttp==3.13.5",
    "websockets==16.0",
    "numpy==1.26.4",
)
#: Installed without dependencies, as in the image: langchain-aws 0.2.19 asks for
#: boto3>=1.37.24, which the image does not have either.
NO_DEPS = ("langchain-aws==0.2.19",)

_RECIPE = 1  # bump when the build steps change


def _cache_dir() -> Path:
    root = os.environ.get("CHATKIT_STUDIO_IMAGE_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "chatkit-studio-image"
    key = hashlib.sha256(json.dumps([_RECIPE, PINS, NO_DEPS]).encode()).hexdigest()[:16]
    return base / key


def _run(args: list[str], log: Path) -> None:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(args)}\n")
        out.flush()
        done = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8").splitlines()[-30:]
        raise RuntimeError(f"building the Studio-like env failed ({log}):\n" + "\n".join(tail))


def build_info() -> dict:
    """``complete.json`` of the cached build (python, seconds it took, when), building it
    first if needed."""
    studio_image_python()
    return json.loads((_cache_dir() / "complete.json").read_text(encoding="utf-8"))


def studio_image_python() -> Path:
    """The server env's ``bin/python``; the first call on a machine builds it (about 1½ min
    with PyPI reachable), later calls only check ``complete.json``."""
    target = _cache_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{target}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "complete.json").is_file():
            _build(target)
    return target / "bin" / "python"


def _build(target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    started = time.monotonic()
    base = find_python312()
    target.mkdir()
    log = target.parent / f"{target.name}.log"
    log.write_text("", encoding="utf-8")
    _run([base, "-m", "venv", str(target)], log)
    python = str(target / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    _run([*pip, *PINS], log)
    _run([*pip, "--no-deps", *NO_DEPS], log)
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    info = {
        "python": version,
        "base": base,
        "build_seconds": round(time.monotonic() - started, 1),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "pins": [*PINS, *NO_DEPS],
    }
    partial = target / "complete.json.partial"
    partial.write_text(json.dumps(info, indent=1), encoding="utf-8")
    partial.rename(target / "complete.json")
