"""``scripts/studio-setup.sh`` against a Jupyter server env pinned like the SageMaker Studio
image (tests/setup/studio_image.py, cached): the server's packages stay exactly as they were,
its tools still work, it lists the ``chatkit`` kernel, that kernel runs notebook 00, and a
second run changes nothing. The script and the tools run as subprocesses (they reach PyPI; this
pytest process stays on loopback)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from studio_image import NO_DEPS, PINS, build_info, studio_image_python

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "studio-setup.sh"
ARTIFACTS = ROOT / "artifacts"

pytestmark = [pytest.mark.setup, pytest.mark.slow, pytest.mark.timeout(1800)]


def _freeze(python: Path) -> list[str]:
    out = subprocess.run(
        [python, "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True
    )
    return sorted(out.stdout.splitlines())


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` (size, mtime) — bytecode caches left out."""
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


class Setup:
    """One cached server env, one kernel env, one Jupyter data dir; runs the script."""

    def __init__(self, tmp: Path) -> None:
        self.server = studio_image_python()
        self.kernel_env = tmp / "kernel-env"
        self.data = tmp / "jupyter-data"
        self.env = {
            **os.environ,
            "PATH": f"{self.server.parent}{os.pathsep}{os.environ['PATH']}",  # as in Studio
            "CHATKIT_SERVER_PYTHON": str(self.server),
            "CHATKIT_ENV": str(self.kernel_env),
            "JUPYTER_DATA_DIR": str(self.data),
            "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "jupyter-runtime"),
            "IPYTHONDIR": str(tmp / "ipython"),
        }
        for name in ("VIRTUAL_ENV", "PYTHONPATH", "CHATKIT_PYTHON"):
            self.env.pop(name, None)

    def run(self, **overrides: str) -> tuple[subprocess.CompletedProcess, float]:
        started = time.monotonic()
        done = subprocess.run(
            ["bash", str(SCRIPT)],
            env={**self.env, **overrides},
            capture_output=True,
            text=True,
            check=False,
        )
        return done, time.monotonic() - started

    def server_run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.server), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            **kwargs,
        )


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Runs the script twice into an empty kernel env; keeps what the tests look at."""
    cold = time.monotonic()
    s = Setup(tmp_path_factory.mktemp("studio-setup"))
    cache_seconds = time.monotonic() - cold
    before = _freeze(s.server)
    first, first_s = s.run()
    assert first.returncode == 0, first.stdout + first.stderr
    after_first = _freeze(s.server)
    trees = _tree(s.kernel_env), _tree(s.data)
    second, second_s = s.run()
    assert second.returncode == 0, second.stdout + second.stderr
    figures = {
        "cold_build_seconds": build_info()["build_seconds"],
        "cache_lookup_seconds": round(cache_seconds, 1),
        "first_run_seconds": round(first_s, 1),
        "second_run_seconds": round(second_s, 1),
        "server_python": build_info()["python"],
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "studio-setup-times.json").write_text(json.dumps(figures, indent=1))
    print("\nstudio-setup.sh in the Studio-like env:", figures)
    return {
        "s": s,
        "before": before,
        "after_first": after_first,
        "after_second": _freeze(s.server),
        "trees": trees,
        "trees_again": (_tree(s.kernel_env), _tree(s.data)),
        "first": first,
        "second": second,
    }


def test_the_server_env_is_pinned_like_the_studio_image(runs):
    frozen = {line.lower().replace("_", "-") for line in runs["before"]}
    pinned = [pin.lower() for pin in (*PINS, *NO_DEPS) if "==" in pin]
    assert [pin for pin in pinned if pin not in frozen] == []


def test_the_documented_pip_install_would_have_upgraded_the_image(runs):
    """The control: resolving chatkit's extras in this env upgrades the image's packages
    (what broke jupyter-ai) — so the env below really is exposed to that breakage."""
    s = runs["s"]
    done = s.server_run(
        "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-", f"{ROOT}[notebook]"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    would = {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads(done.stdout)["install"]
    }
    assert would["boto3"] != "1.37.3" and would["langchain-core"] != "0.3.81", would


def test_the_server_packages_are_exactly_as_before(runs):
    assert runs["after_first"] == runs["before"]
    assert runs["after_second"] == runs["before"]
    assert "서버 환경 그대로 (server environment unchanged)" in runs["first"].stdout


def test_the_server_tools_still_work(runs):
    check = """
import asyncio
import aioboto3, jupyter_ai, langchain.agents

async def main():
    async with aioboto3.Session().client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    ) as s3:
        return type(s3).__name__

print("jupyter_ai", jupyter_ai.__version__, "s3 client", asyncio.run(main()))
"""
    done = runs["s"].server_run("-c", check)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("jupyter_ai 2.31.7 s3 client S3"), done.stdout


def test_the_server_lists_the_chatkit_kernel(runs):
    s = runs["s"]
    done = s.server_run("-m", "jupyter", "kernelspec", "list", "--json")
    assert done.returncode == 0, done.stderr
    spec = json.loads(done.stdout)["kernelspecs"]["chatkit"]
    assert spec["resource_dir"] == str(s.data / "kernels" / "chatkit")
    assert spec["spec"]["argv"][0] == str(s.kernel_env / "bin" / "python")
    major_minor = ".".join(build_info()["python"].split(".")[:2])
    assert spec["spec"]["display_name"] == f"chatkit (Python {major_minor})"


def _run_notebook(s: Setup, name: str, out: Path, **env: str) -> str:
    """Runs ``notebooks/<name>`` with the ``chatkit`` kernel through the server env's
    papermill; returns everything its cells printed."""
    args = ["-m", "papermill", str(ROOT / "notebooks" / name), str(out), "-k", "chatkit"]
    args += ["--cwd", str(ROOT / "notebooks")]
    done = subprocess.run(
        [str(s.server), *args], env={**s.env, **env}, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return "".join(
        "".join(output.get("text", ""))
        for cell in json.loads(out.read_text(encoding="utf-8"))["cells"]
        for output in cell.get("outputs", [])
    )


def test_the_chatkit_kernel_runs_notebook_00(runs, tmp_path):
    s = runs["s"]
    printed = _run_notebook(s, "00_setup.ipynb", tmp_path / "00.ipynb", CHATKIT_MODE="offline")
    assert f"at {s.kernel_env / 'bin' / 'python'}" in printed, printed[:2000]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_running_jupyterlab_lists_the_kernel_and_the_widget_front_end(runs, tmp_path):
    """A real JupyterLab from the server env: its kernelspecs API has ``chatkit``, its page
    config has the anywidget front-end and serves its code, and jupyter-ai's server extension
    still loads."""
    s, port, token = runs["s"], _free_port(), "studio-setup-test"
    log = tmp_path / "lab.log"
    args = ["-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1"]
    args += [f"--ServerApp.port={port}", f"--IdentityProvider.token={token}"]
    args += [f"--ServerApp.root_dir={tmp_path}", "--ServerApp.port_retries=0"]
    args += ["--allow-root"] if os.geteuid() == 0 else []
    with log.open("w") as sink:
        lab = subprocess.Popen([str(s.server), *args], env=s.env, stdout=sink, stderr=sink)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/api/status?token={token}", lab, log)
        with urllib.request.urlopen(f"{base}/api/kernelspecs?token={token}") as reply:
            assert "chatkit" in json.load(reply)["kernelspecs"]
        with urllib.request.urlopen(f"{base}/lab?token={token}") as reply:
            page = reply.read().decode()
        config = json.loads(
            page.split('id="jupyter-config-data" type="application/json">')[1].split("</script>")[0]
        )
        loads = {ext["name"]: ext["load"] for ext in config["federated_extensions"]}
        assert {"anywidget", "@jupyter-widgets/jupyterlab-manager"} <= loads.keys()
        entry = f"{base}/lab/extensions/anywidget/{loads['anywidget']}?token={token}"
        with urllib.request.urlopen(entry) as reply:  # served from the user's data dir
            assert reply.status == 200 and len(reply.read()) > 0
    finally:
        lab.terminate()
        lab.wait(timeout=60)
    assert "jupyter_ai | extension was successfully loaded" in log.read_text()


def _wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    """Until ``url`` answers (the server is up) or the server exits."""
    while process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"JupyterLab exited:\n{log.read_text()[-3000:]}")


def test_a_second_run_changes_nothing(runs):
    second = runs["second"].stdout
    for before, after in zip(runs["trees"], runs["trees_again"], strict=True):
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        assert changed == [], (changed[:20], second)
    assert "이미 설치됨 (already installed)" in second
    assert "커널 이미 등록됨 (kernel already registered)" in second
    assert "추가 (widget front-end added)" not in second


def test_without_pypi_it_fails_clearly_and_the_server_keeps_its_packages(runs, tmp_path):
    s = runs["s"]
    done, _ = s.run(
        CHATKIT_ENV=str(tmp_path / "offline-env"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        UV_OFFLINE="1",
        UV_CACHE_DIR=str(tmp_path / "empty-uv-cache"),
    )
    assert done.returncode == 1
    assert "PyPI에 연결되는지" in done.stderr and "Check that PyPI is reachable" in done.stderr
    assert not (tmp_path / "data" / "kernels" / "chatkit").exists()
    assert _freeze(s.server) == runs["before"]


def test_a_wrong_server_python_is_named(runs, tmp_path):
    s = runs["s"]
    missing, _ = s.run(CHATKIT_SERVER_PYTHON=str(tmp_path / "no-such-python"))
    assert missing.returncode == 1
    assert "server Python not found" in missing.stderr
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    no_jupyter, _ = s.run(CHATKIT_SERVER_PYTHON=str(bare / "bin" / "python"))
    assert no_jupyter.returncode == 1
    assert "no Jupyter in this Python" in no_jupyter.stderr


def test_the_lifecycle_configuration_sets_up_a_fresh_home(runs, tmp_path):
    """infra/studio-lifecycle.sh as Studio runs it at a space's start: it returns at once,
    clones the repository into an empty home, runs the setup in the background; a restart
    finds everything in place."""
    s = runs["s"]
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the lifecycle script clones the repository")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in s.env.items() if not k.startswith(("JUPYTER_", "CHATKIT_ENV"))}
    env.update(
        HOME=str(home),
        UV_CACHE_DIR=os.environ.get("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv")),
        CHATKIT_REPO_URL=f"file://{ROOT}",
        CHATKIT_REPO_REF="",
    )
    status = home / ".chatkit" / "setup.status"
    for start in ("first", "restart"):
        done = subprocess.run(
            ["bash", str(ROOT / "infra" / "studio-lifecycle.sh")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "setup.log" in done.stdout
        while not status.exists():  # the setup runs on in the background
            time.sleep(0.5)
        log = (home / ".chatkit" / "setup.log").read_text()
        assert status.read_text().strip() == "0", (start, log)
        assert "서버 환경 그대로 (server environment unchanged)" in log
    assert "이미 설치됨 (already installed)" in log
    spec = json.loads((home / ".local/share/jupyter/kernels/chatkit/kernel.json").read_text())
    assert spec["argv"][0] == str(home / ".chatkit" / "venv" / "bin" / "python")
    assert (home / "chatkit" / "scripts" / "studio-setup.sh").is_file()


def _python311() -> str | None:
    """A Python 3.11 for a kernel env (pyenv's or on PATH), or None."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for candidate in [*sorted(root.glob("versions/3.11*/bin/python3.11")), "python3.11"]:
        probe = subprocess.run(
            [str(candidate), "-c", "import sys; print(sys.version_info[:2] == (3, 11))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.stdout.strip() == "True":
            return str(candidate)
    return None


def test_notebook_07_without_python312_says_what_to_do_and_finishes(runs, tmp_path):
    """A 3.11 ``chatkit`` kernel on a machine where no python3.12 can be found: 07 runs to
    the end offline, says how to get 3.12, and skips only the steps that run the zip."""
    s, python311 = runs["s"], _python311()
    if python311 is None:
        pytest.skip("no Python 3.11 here to stand for a kernel without 3.12")
    data, kernel_env = tmp_path / "data", tmp_path / "kernel-311"
    done, _ = s.run(
        CHATKIT_PYTHON=python311, CHATKIT_ENV=str(kernel_env), JUPYTER_DATA_DIR=str(data)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"chatkit (Python 3.11)"' in done.stdout
    path = [d for d in s.env["PATH"].split(os.pathsep) if not (Path(d) / "python3.12").exists()]
    printed = _run_notebook(
        s,
        "07_deploy.ipynb",
        tmp_path / "07.ipynb",
        JUPYTER_DATA_DIR=str(data),
        PATH=os.pathsep.join(path),
        PYENV_ROOT=str(tmp_path / "no-pyenv"),
    )
    assert "python3.12을 찾지 못했습니다" in printed and "bash scripts/studio-setup.sh" in printed
    assert "smoke test skipped: no python3.12" in printed
    assert "mode=offline, 스모크 건너뜀 (smoke skipped)" in printed


def test_the_server_env_itself_is_refused_as_the_kernel_env(runs):
    s = runs["s"]
    done, _ = s.run(CHATKIT_ENV=str(s.server.parent.parent))
    assert done.returncode == 1
    assert "CHATKIT_ENV is the server env itself" in done.stderr
    assert _freeze(s.server) == runs["before"]
