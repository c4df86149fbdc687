"""Build the Lambda zip: the runtime dependencies for python3.12 / x86_64 plus the
``chatkit`` core (no offline stack, web client, deploy tools or Jupyter), byte for byte
reproducible — the same inputs give the same sha256.

    >>> bundle = build_bundle()                    # doctest: +SKIP
    >>> print(bundle.summary())                    # doctest: +SKIP
    build/lambda/chatkit-lambda-3f2a….zip  37.4 MB zipped · 82.3 MB unzipped · … sha256 9c1e…

Steps: ``pip install --platform manylinux… --only-binary=:all: --target`` of the
dependencies and their ``.pyc`` files compiled by Python 3.12 (cached per requirement set
in ``<out>/deps/``, downloads in ``<out>/pip-cache/``), then the core and its ``.pyc``
files (Lambda's ``/var/task`` is read-only: without them every cold start compiles from
source), zipped with sorted entries and fixed timestamps. An unchanged build is reused.
Distributions no function imports (:data:`LEFT_OUT`), type stubs and test folders stay
out of the zip; ``build_bundle(lean=False)`` builds the full one (the benchmark's baseline).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .runtime import LAMBDA_PYTHON, RuntimeNotFound, find_python312

__all__ = ["LEFT_OUT", "Bundle", "build_bundle", "default_build_dir", "runtime_requirements"]

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
#: Platforms of the Lambda python3.12 runtime (Amazon Linux 2023, glibc 2.34, x86_64).
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
#: Parts of ``chatkit`` the functions never import: the offline stack (aiohttp, moto),
#: the web client (uploaded to S3 on its own), the deploy and workshop tools, the CLI.
EXCLUDED = frozenset(
    {"local", "web", "deploy", "workshop", "cli.py", "__main__.py", "doctor.py", "__pycache__"}
)
#: Distributions pip installs (declared dependencies) that no function imports, measured from
#: the zip: every handler's init and a full chat (tests/deploy/test_package.py and
#: test_zip_invoker.py run the lean zip, so a release that starts needing one fails there).
#: Name → why it is left out.
LEFT_OUT = {
    "numpy": "langchain-aws imports it only for embeddings and vector stores (19 MB zipped)",
    "zstandard": "httpx2 and langsmith compress with it only if it is installed (5 MB)",
    "websockets": "langsmith imports it only for its sandbox client",
    "pycparser": "cffi parses C declarations with it when building bindings, not at run time",
}
#: Files no function reads: type stubs and test folders.
STRIPPED_SUFFIXES = (".pyi",)
STRIPPED_DIRS = frozenset({"tests"})
#: ``3.12``: the version pip resolves wheels for.
PYTHON_VERSION = "{}.{}".format(*LAMBDA_PYTHON)
#: 1980-01-01, the earliest time a zip entry can hold: every entry gets it.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


@dataclass(frozen=True)
class Bundle:
    """A built Lambda zip."""

    path: Path
    sha256: str
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    #: The interpreter that compiled the ``.pyc`` files (None: none compiled).
    compiled_with: str | None
    #: True when an identical earlier build was reused.
    cached: bool

    @classmethod
    def from_zip(cls, path: Path, compiled_with: str | None = None, cached: bool = True) -> Bundle:
        """Describe an existing zip (sha256, sizes)."""
        sha = hashlib.sha256()
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                sha.update(block)
        with zipfile.ZipFile(path) as bundle:
            entries = bundle.infolist()
        return cls(
            path=path,
            sha256=sha.hexdigest(),
            zipped_bytes=path.stat().st_size,
            unzipped_bytes=sum(e.file_size for e in entries),
            files=len(entries),
            compiled_with=compiled_with,
            cached=cached,
        )

    def summary(self) -> str:
        mb = 1024 * 1024
        return (
            f"{self.path}  {self.zipped_bytes / mb:.1f} MB zipped · "
            f"{self.unzipped_bytes / mb:.1f} MB unzipped (Lambda limit 250 MB) · "
            f"{self.files} files · sha256 {self.sha256}" + ("  (cached)" if self.cached else "")
        )


def default_build_dir() -> Path:
    """``$CHATKIT_BUILD_DIR``, else ``build/lambda`` in the source checkout (shared by
    the CLI, the tests and the notebooks), else ``./build/lambda``."""
    if os.environ.get("CHATKIT_BUILD_DIR"):
        return Path(os.environ["CHATKIT_BUILD_DIR"])
    checkout = PACKAGE_ROOT.parent
    base = checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()
    return base / "build" / "lambda"


def runtime_requirements() -> list[str]:
    """chatkit's dependencies for the Lambda runtime: the core ones plus the
    ``aws-lambda`` extra, markers evaluated for python3.12 on Linux x86_64."""
    from packaging.requirements import Requirement

    target = {
        "extra": "aws-lambda",
        "python_version": PYTHON_VERSION,
        "python_full_version": f"{PYTHON_VERSION}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
    }
    wanted = []
    for line in metadata.requires("chatkit") or []:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(target):
            requirement.marker = None
            wanted.append(str(requirement))
    return sorted(wanted)


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _release_key(*parts: object, lean: bool) -> str:
    """The zip's name: changes with the dependencies, the core, this builder, and what is
    left out or stripped."""
    stripped = (sorted(LEFT_OUT), STRIPPED_SUFFIXES, sorted(STRIPPED_DIRS)) if lean else None
    return _digest(*parts, stripped)[:16]


def _core_files() -> dict[str, bytes]:
    """``{path in the zip: content}`` of the chatkit core, read once (what is hashed is
    what is zipped, even if a file changes meanwhile)."""
    found = {}
    for path in sorted(PACKAGE_ROOT.rglob("*")):
        relative = path.relative_to(PACKAGE_ROOT)
        if path.is_file() and not EXCLUDED.intersection(relative.parts) and path.suffix != ".pyc":
            found[f"chatkit/{relative.as_posix()}"] = path.read_bytes()
    return found


def _install_dependencies(requirements: list[str], python: str | None, out: Path, key: str) -> Path:
    """pip-install ``requirements`` for the Lambda platform into ``out/deps/<key>`` and
    compile them with ``python`` (3.12; None: this interpreter installs, no ``.pyc``)."""
    target = out / "deps" / key
    if target.is_dir():
        return target
    partial = target.with_name(f"{key}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    command = [
        python or sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile", "--only-binary=:all:", *platforms,
        "--python-version", PYTHON_VERSION, "--implementation", "cp",
        "--target", str(partial), "--cache-dir", str(out / "pip-cache"), *requirements,
    ]  # fmt: skip
    print(f"pip install (python3.12, x86_64): {' '.join(requirements)}", flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise RuntimeError(
            "의존성 설치에 실패했습니다 (pip install failed):\n" + result.stderr[-3000:]
        )
    shutil.rmtree(partial / "bin", ignore_errors=True)  # console scripts: not used on Lambda
    if python:
        _compile(partial, partial, python, workers=0)
    try:
        partial.rename(target)
    except OSError:  # a concurrent build finished first: use its result
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _left_out_paths(deps: Path, left_out: Collection[str]) -> set[str]:
    """Top-level entries of ``deps`` (packages, modules and their ``.pyc``, dist-info)
    that belong only to the distributions named in ``left_out``."""
    wanted = {_canonical(name) for name in left_out}
    owners: dict[str, set[str]] = {}
    for info in deps.glob("*.dist-info"):
        name = _canonical(metadata.Distribution.at(info).metadata["Name"])
        for line in (info / "RECORD").read_text().splitlines():
            top = line.split(",")[0].split("/")[0]
            if top.endswith(".py"):  # a module: its .pyc sits in the top __pycache__
                owners.setdefault(f"__pycache__/{top[:-3]}.", set()).add(name)
            owners.setdefault(top, set()).add(name)
    return {top for top, names in owners.items() if top and names <= wanted}


def _stage(deps: Path, core: dict[str, bytes], stage: Path, lean: bool) -> None:
    """Dependencies (hard links where possible; ``lean``: without :data:`LEFT_OUT`, stubs
    and tests) and the core into ``stage``."""
    skipped = _left_out_paths(deps, LEFT_OUT)

    def link_or_copy(source: str, destination: str) -> None:
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)

    def ignore(directory: str, names: list[str]) -> set[str]:
        if not lean:
            return set()
        relative = Path(directory).relative_to(deps).as_posix()
        return {
            name
            for name in names
            if name.endswith(STRIPPED_SUFFIXES)
            or (name in STRIPPED_DIRS and relative != ".")
            or (relative == "." and name in skipped)
            or (relative == "__pycache__" and f"__pycache__/{name.split('.')[0]}." in skipped)
        }

    shutil.copytree(deps, stage, copy_function=link_or_copy, ignore=ignore)
    for name, content in core.items():
        destination = stage / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(content)


def _compile(root: Path, tree: Path, python: str, workers: int = 1) -> None:
    """Hash-based ``.pyc`` files for ``tree`` (no timestamps inside, so reproducible),
    naming the source paths Lambda will see (``root`` → ``/var/task``); ``workers=0``:
    one process per CPU."""
    subprocess.run(
        [
            python, "-m", "compileall", "-q", "-j", str(workers),
            "--invalidation-mode", "unchecked-hash",
            "-s", str(root), "-p", "/var/task", str(tree),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def _write_zip(stage: Path, destination: Path) -> None:
    partial = destination.with_name(f"{destination.name}.partial-{os.getpid()}")
    files = sorted((p.relative_to(stage).as_posix(), p) for p in stage.rglob("*") if p.is_file())
    with zipfile.ZipFile(partial, "w") as bundle:
        for name, path in files:
            entry = zipfile.ZipInfo(name, ZIP_TIME)
            entry.external_attr = 0o100644 << 16  # regular file, rw-r--r--
            entry.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(entry, path.read_bytes(), compresslevel=6)
    partial.replace(destination)


def _prune(out: Path, keep: tuple[Path, Path], min_age_seconds: float = 600) -> None:
    """Remove older zips, their unpacked copies and older dependency installs (each
    50–150 MB); ones touched in the last ``min_age_seconds`` stay, in case another
    process is using them."""
    now = time.time()
    for old in [*out.glob("chatkit-lambda-*.zip"), *out.glob("deps/*")]:
        if old in keep or now - old.stat().st_mtime < min_age_seconds:
            continue
        if old.suffix == ".zip":
            old.unlink(missing_ok=True)
            shutil.rmtree(out / "unpacked" / old.stem, ignore_errors=True)
        else:
            shutil.rmtree(old, ignore_errors=True)


def build_bundle(out: Path | None = None, *, force: bool = False, lean: bool = True) -> Bundle:
    """Build (or reuse) the Lambda zip in ``out`` (default :func:`default_build_dir`).

    ``force`` rebuilds the zip even if an identical one exists (the dependency
    install stays cached). ``lean=False``: every installed file (the benchmark's
    baseline). Without Python 3.12 the dependencies are
    installed by this interpreter for the 3.12 platform and no ``.pyc`` files are compiled.
    """
    out = (out or default_build_dir()).resolve()
    out.mkdir(parents=True, exist_ok=True)
    try:
        python: str | None = find_python312()
    except RuntimeNotFound:
        python = None
        print("참고: python3.12이 없어 .pyc 없이 만듭니다 (note: no python3.12, no .pyc files)")
    requirements = runtime_requirements()
    deps_key = _digest(requirements, PLATFORMS, LAMBDA_PYTHON, python is not None)[:16]
    core = _core_files()
    hashes = {name: hashlib.sha256(content).hexdigest() for name, content in core.items()}
    recipe = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()  # this builder
    release = _release_key(deps_key, hashes, recipe, python is not None, lean=lean)
    destination = out / f"chatkit-lambda-{release}.zip"
    if destination.is_file() and not force:
        return Bundle.from_zip(destination, python, cached=True)
    deps = _install_dependencies(requirements, python, out, deps_key)
    stage = out / f"stage-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    try:
        _stage(deps, core, stage, lean)
        if python:
            _compile(stage, stage / "chatkit", python)
        _write_zip(stage, destination)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    _prune(out, keep=(destination, deps))
    bundle = Bundle.from_zip(destination, python, cached=False)
    if bundle.unzipped_bytes > LAMBDA_UNZIPPED_LIMIT:
        raise RuntimeError(
            f"Lambda 한도(250 MB)를 넘습니다 (over Lambda's 250 MB unzipped limit): "
            f"{bundle.unzipped_bytes / 2**20:.0f} MB"
        )
    return bundle
