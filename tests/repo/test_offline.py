"""The test suite itself runs offline: no AWS credentials, loopback sockets only."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest


def test_no_aws_credentials_in_the_environment():
    assert not any(
        os.environ.get(n)
        for n in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
    )
    assert os.environ["CHATKIT_MODE"] == "offline"


def test_sockets_to_non_loopback_addresses_are_refused():
    with socket.socket() as sock, pytest.raises(OSError, match="loopback"):
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1, never routed


def test_loopback_is_allowed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.socket() as client:
            client.connect(server.getsockname())


def test_import_chatkit_loads_no_notebook_or_heavy_libraries():
    code = (
        "import sys, chatkit, chatkit.session, chatkit.history, chatkit.memory, chatkit.llm, "
        "chatkit.config, chatkit.events\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('IPython', 'ipywidgets', 'jupyter_client', 'ipykernel', 'jupyterlab', 'moto', "
        "'langchain_aws', 'aiohttp')]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported at import time: {out.stdout}"
