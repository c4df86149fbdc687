"""chatkit.local.urls: the address `chatkit serve` prints for the attendee's browser, for
each place it runs — fake environments and metadata files, no network."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from backend_client import chatkit_serve

from chatkit.local._hosts import extra_hosts, host_allowed, origin_allowed
from chatkit.local.urls import Where, allow_proxy_host, attendee_url, describe

ARN = "arn:aws:sagemaker:ap-northeast-2:123456789012:app/d-abc123def456/minsu/{}/default"


def studio(tmp_path: Path, app_type: str, **extra: str) -> Path:
    """A resource-metadata.json as Studio writes it into the app container."""
    path = tmp_path / "resource-metadata.json"
    metadata = {
        "AppType": app_type,
        "DomainId": "d-abc123def456",
        "UserProfileName": "minsu",
        "SpaceName": "minsu-space",
        "ResourceArn": ARN.format(app_type.lower()),
        "ResourceName": "default",
        **extra,
    }
    path.write_text(json.dumps(metadata))
    return path


def test_plain_machine_is_loopback(tmp_path):
    where = attendee_url(8765, {"HOME": "/root"}, metadata=tmp_path / "missing.json")
    assert where == Where("local", "http://127.0.0.1:8765/")
    assert describe(where) == "브라우저에서 열기 (open in your browser): http://127.0.0.1:8765/"


def test_studio_jupyterlab_space_gives_the_proxy_path_on_the_tabs_host(tmp_path):
    where = attendee_url(8765, {}, metadata=studio(tmp_path, "JupyterLab"))
    assert where.place == "studio" and where.url is None
    assert where.path == "/jupyterlab/default/proxy/8765/"
    # A space's host is its own (not the domain id): the attendee keeps the tab's host.
    assert "https://<space>.studio.ap-northeast-2.sagemaker.aws" in where.note
    text = describe(where)
    assert text.startswith(
        "브라우저에서 열기 (open in your browser): /jupyterlab/default/proxy/8765/"
    )
    # Its own host is not known here: every name under the region's Studio domain is
    # allowed past the DNS-rebinding guard, and nothing else.
    assert where.proxy_host == ".studio.ap-northeast-2.sagemaker.aws"
    env: dict[str, str] = {}
    allow_proxy_host(where, env)
    tab = "rx4im9n1uveh8zr.studio.ap-northeast-2.sagemaker.aws"
    assert host_allowed(tab, "127.0.0.1", extra_hosts(env))
    assert origin_allowed(f"https://{tab}", extra_hosts(env))
    assert not host_allowed(
        "studio.ap-northeast-2.sagemaker.aws.evil.example", "127.0.0.1", extra_hosts(env)
    )
    assert not host_allowed("x.studio.us-east-1.sagemaker.aws", "127.0.0.1", extra_hosts(env))


def test_studio_classic_url_is_complete(tmp_path):
    where = attendee_url(8080, {}, metadata=studio(tmp_path, "JupyterServer"))
    host = "d-abc123def456.studio.ap-northeast-2.sagemaker.aws"
    assert where.url == f"https://{host}/jupyter/default/proxy/8080/"
    assert where.proxy_host == host


def test_studio_region_from_the_environment_when_the_arn_has_none(tmp_path):
    metadata = studio(tmp_path, "JupyterLab", ResourceArn="")
    where = attendee_url(8765, {"AWS_REGION": "us-west-2"}, metadata=metadata)
    assert ".studio.us-west-2.sagemaker.aws" in where.note
    assert where.proxy_host == ".studio.us-west-2.sagemaker.aws"


@pytest.mark.parametrize("content", ["", "{not json", "[]", '{"AppType": "KernelGateway"}'])
def test_unreadable_or_other_metadata_is_not_studio(tmp_path, content):
    path = tmp_path / "resource-metadata.json"
    path.write_text(content)
    assert attendee_url(8765, {}, metadata=path).place == "local"


def test_jupyterhub_prefix(tmp_path):
    env = {"JUPYTERHUB_SERVICE_PREFIX": "/user/minsu/"}
    where = attendee_url(9000, env, metadata=tmp_path / "none")
    assert (where.place, where.url, where.path) == ("jupyter", None, "/user/minsu/proxy/9000/")
    assert "JupyterHub" in describe(where)


def test_jupyter_terminal_uses_the_server_url(tmp_path):
    env = {"JUPYTER_SERVER_URL": "http://lab.example:8888/base/"}
    where = attendee_url(8765, env, metadata=tmp_path / "none")
    assert where.url == "http://lab.example:8888/base/proxy/8765/"
    assert where.proxy_host == "lab.example"  # the Host jupyter-server-proxy forwards
    assert "http://127.0.0.1:8765/" in where.note  # the direct address too


def test_kernel_finds_its_server_through_the_runtime_file(tmp_path):
    info = {"url": "http://127.0.0.1:8888/", "base_url": "/", "pid": 4242}
    (tmp_path / "jpserver-4242.json").write_text(json.dumps(info))
    env = {"JPY_PARENT_PID": "4242"}
    where = attendee_url(8765, env, metadata=tmp_path / "none", runtime_dir=tmp_path)
    assert where.url == "http://127.0.0.1:8888/proxy/8765/"
    assert where.proxy_host is None  # loopback passes the guard as it is
    # JUPYTER_RUNTIME_DIR is where the server wrote it when no directory is given.
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path)
    assert attendee_url(8765, env, metadata=tmp_path / "none").url == where.url
    # No runtime file for that pid: not under Jupyter after all.
    env["JPY_PARENT_PID"] = "4243"
    assert attendee_url(8765, env, metadata=tmp_path / "none").place == "local"


@pytest.mark.parametrize("port", [8080, 8081, 8082])
def test_cloud9_preview_ports(tmp_path, port):
    env = {"C9_PID": "0123abcd", "C9_USER": "ec2-user", "AWS_REGION": "ap-northeast-2"}
    where = attendee_url(port, env, metadata=tmp_path / "none")
    host = "0123abcd.vfs.cloud9.ap-northeast-2.amazonaws.com"
    assert where.place == "cloud9" and where.proxy_host == host
    assert where.url == (f"https://{host}/" if port == 8080 else None)
    assert "Preview Running Application" in describe(where)


def test_cloud9_other_port_suggests_8080(tmp_path):
    env = {"C9_HOSTNAME": "ip-10-0-0-1", "AWS_REGION": "us-east-1"}
    where = attendee_url(8765, env, metadata=tmp_path / "none")
    assert where.url == "http://127.0.0.1:8765/" and where.proxy_host is None
    assert "8080-8082" in where.note and "chatkit serve --port 8080" in where.note


def test_allow_proxy_host_adds_once():
    env: dict[str, str] = {}
    where = Where("studio", "https://h/", proxy_host="d-1.studio.us-east-1.sagemaker.aws")
    allow_proxy_host(where, env)
    allow_proxy_host(where, env)
    assert env == {"CHATKIT_ALLOWED_HOSTS": "d-1.studio.us-east-1.sagemaker.aws"}
    allow_proxy_host(Where("local", "http://127.0.0.1:1/"), env)
    assert env["CHATKIT_ALLOWED_HOSTS"] == "d-1.studio.us-east-1.sagemaker.aws"


@pytest.mark.slow  # starts a `chatkit serve` process: not in test-fast
def test_chatkit_serve_keeps_its_first_line_and_adds_the_attendee_url():
    """The public contract ``chatkit serving on http://HOST:PORT/`` comes first; the next
    line is the attendee's address (a JupyterHub prefix here)."""
    from benchmarks.concurrency import offline_env

    env = {**offline_env(), "JUPYTERHUB_SERVICE_PREFIX": "/user/minsu/"}
    env = {k: v for k, v in env.items() if not k.startswith(("C9_", "JPY_", "JUPYTER_SERVER"))}
    with chatkit_serve(env) as serve:
        first, second = serve.lines.get(timeout=120), serve.lines.get(timeout=120)
        port = first.rsplit(":", 1)[-1].strip("/\n")
        assert first == f"chatkit serving on http://127.0.0.1:{port}/\n", first
        assert second == f"브라우저에서 열기 (open in your browser): /user/minsu/proxy/{port}/\n"
        serve.process.send_signal(signal.SIGTERM)
        assert serve.process.wait(timeout=30) == 0, serve.stderr()
