"""Node test suites (``*.test.mjs`` here) run with ``node --test`` against chatkit's local
endpoints, using unmodified npm packages (package.json: the AWS SDK for JavaScript v3
clients and ``ws``). ``npm ci`` runs once per lockfile: node_modules/ is kept (git-ignored)
with a stamp of the lockfile it was installed from.

A pytest file here starts what its suite needs and calls ``run_node``::

    def test_my_suite(stack, run_node):
        result = run_node("my_suite.test.mjs", {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": stack.bedrock_url})
        result.check()
"""  # noqa: E501

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).parent
LOCK = HERE / "package-lock.json"
STAMP = HERE / "node_modules" / ".chatkit-lock-sha256"
#: What every suite gets: dummy AWS credentials and no shared config, so nothing real is used.
BASE_ENV = {
    "AWS_ACCESS_KEY_ID": "offline",
    "AWS_SECRET_ACCESS_KEY": "offline",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_COLOR": "1",
}


@dataclass
class NodeRun:
    """The outcome of one ``node --test`` run (TAP output)."""

    returncode: int
    output: str

    def count(self, what: str) -> int:
        """``pass``/``fail``/``tests`` from the TAP summary."""
        found = re.search(rf"^# {what} (\d+)$", self.output, re.MULTILINE)
        return int(found.group(1)) if found else -1

    def check(self) -> NodeRun:
        """Fail the pytest test, with node's report, unless every node test passed."""
        assert self.returncode == 0 and self.count("fail") == 0, self.output[-6000:]
        assert self.count("pass") > 0, self.output[-6000:]
        return self


@pytest.fixture(scope="session")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("node is not installed (Node 20+ runs the SDK suites in tests/local/sdk)")
    return found


@pytest.fixture(scope="session")
def node_modules(node: str) -> Path:
    """``npm ci`` unless node_modules/ was installed from this very lockfile."""
    wanted = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    lock_path = Path(tempfile.gettempdir()) / f"chatkit-npm-{hashlib.sha1(bytes(HERE)).hexdigest()}"
    with lock_path.open("w") as lock:  # two pytest-xdist workers install once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (STAMP.is_file() and STAMP.read_text() == wanted):
            npm = shutil.which("npm") or "npm"
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=HERE,
                check=True,
                timeout=600,
            )
            STAMP.write_text(wanted)
    return HERE / "node_modules"


@pytest.fixture
def run_node(node: str, node_modules: Path) -> Callable[..., NodeRun]:
    """Run one suite file with ``node --test`` and the given extra environment."""

    def run(suite: str, env: Mapping[str, str], timeout: float = 240) -> NodeRun:
        environ = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
        environ.update(BASE_ENV)
        environ.update(env)
        done = subprocess.run(
            [node, "--test", "--test-reporter=tap", suite],
            cwd=HERE,
            env=environ,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return NodeRun(done.returncode, done.stdout + done.stderr)

    return run
