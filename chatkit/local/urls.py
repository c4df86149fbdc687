"""Which address an attendee's browser can open for a port ``chatkit serve`` listens on.

The server always answers on loopback; what the browser can reach depends on where it runs:

- SageMaker Studio (``/opt/ml/metadata/resource-metadata.json``): the Jupyter server's
  jupyter-server-proxy, ``https://<host>/jupyterlab/default/proxy/<port>/``. Studio Classic
  (``AppType`` ``JupyterServer``) lives on ``<domain-id>.studio.<region>.sagemaker.aws``
  under ``/jupyter/default/``; a JupyterLab space has a host of its own that only the browser
  (or the DescribeSpace API) knows, so the path is given with the host to copy from the tab.
- Another Jupyter server (a kernel's ``JPY_PARENT_PID`` and the server's ``jpserver-PID.json``,
  a terminal's ``JUPYTER_SERVER_URL``, JupyterHub's ``JUPYTERHUB_SERVICE_PREFIX``): its
  ``<base_url>proxy/<port>/``.
- AWS Cloud9 (``C9_*``): the preview, only for ports 8080-8082.
- Anywhere else: ``http://127.0.0.1:<port>/``.

The trailing slash matters: the web client resolves its endpoints against the page's own
address (``…/proxy/8765/ws``).

Example::

    >>> where = attendee_url(8765, {"JUPYTERHUB_SERVICE_PREFIX": "/user/minsu/"}, metadata=None)
    >>> where.path, where.url
    ('/user/minsu/proxy/8765/', None)
    >>> attendee_url(8765, {}, metadata=None).url
    'http://127.0.0.1:8765/'
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from chatkit.attendee import STUDIO_METADATA

__all__ = ["Where", "allow_proxy_host", "attendee_url", "describe"]

#: Studio app type → the Jupyter server's base URL in that app.
_STUDIO_BASE = {
    "JupyterLab": "/jupyterlab/default/",
    "JupyterServer": "/jupyter/default/",  # Studio Classic
    "CodeEditor": "/codeeditor/default/",
}
CLOUD9_PORTS = (8080, 8081, 8082)


@dataclass(frozen=True)
class Where:
    """Where the browser can open the port: ``url`` when the whole address is known, else
    ``path`` on the host of the page the attendee already has open (``note`` says which).
    ``proxy_host``: the ``Host`` the proxy forwards, when it is known and not loopback."""

    place: str  # "studio" | "jupyter" | "cloud9" | "local"
    url: str | None
    path: str | None = None
    note: str = ""
    proxy_host: str | None = None


def attendee_url(
    port: int,
    environ: Mapping[str, str] | None = None,
    *,
    metadata: Path | None = STUDIO_METADATA,
    runtime_dir: Path | None = None,
) -> Where:
    """Where an attendee opens ``port`` (see the module docstring for the order)."""
    env = os.environ if environ is None else environ
    if any(name.startswith("C9_") for name in env):
        return _cloud9(port, env)
    studio = _read_json(metadata) if metadata is not None else None
    if isinstance(studio, dict) and studio.get("AppType") in _STUDIO_BASE:
        return _studio(port, studio, env)
    server = _jupyter_server(env, runtime_dir)
    if server is not None:
        return _jupyter(port, *server)
    return Where("local", f"http://127.0.0.1:{port}/")


def describe(where: Where) -> str:
    """The lines ``chatkit serve`` prints after ``chatkit serving on …``."""
    target = where.url or where.path
    lines = [f"브라우저에서 열기 (open in your browser): {target}"] if target else []
    return "\n".join(lines + ([where.note] if where.note else []))


def allow_proxy_host(where: Where, environ: dict[str, str] | None = None) -> None:
    """Add ``where.proxy_host`` to ``CHATKIT_ALLOWED_HOSTS``: the proxy forwards the browser's
    ``Host`` (jupyter-server-proxy keeps it), which the DNS-rebinding guard must accept.
    These names (a Studio domain, a Cloud9 preview, the Jupyter server's own) cannot be
    pointed at this machine by a foreign page.

    >>> env = {"CHATKIT_ALLOWED_HOSTS": "lab.example"}
    >>> allow_proxy_host(Where("cloud9", None, proxy_host="e1.vfs.cloud9.x"), env)
    >>> env["CHATKIT_ALLOWED_HOSTS"]
    'lab.example,e1.vfs.cloud9.x'
    """
    env = os.environ if environ is None else environ
    names = [n.strip() for n in env.get("CHATKIT_ALLOWED_HOSTS", "").split(",") if n.strip()]
    if where.proxy_host and where.proxy_host not in names:
        env["CHATKIT_ALLOWED_HOSTS"] = ",".join([*names, where.proxy_host])


def _studio(port: int, metadata: Mapping[str, object], env: Mapping[str, str]) -> Where:
    path = f"{_STUDIO_BASE[str(metadata['AppType'])]}proxy/{port}/"
    arn = str(metadata.get("ResourceArn") or "")
    parts = arn.split(":")
    region = parts[3] if len(parts) > 3 and parts[3] else env.get("AWS_REGION", "<region>")
    domain = str(metadata.get("DomainId") or "")
    if metadata["AppType"] == "JupyterServer" and domain:
        host = f"{domain}.studio.{region}.sagemaker.aws"
        return Where("studio", f"https://{host}{path}", path, proxy_host=host)
    host = f"<space>.studio.{region}.sagemaker.aws"
    note = (
        "  SageMaker Studio: 지금 JupyterLab 탭의 주소에서 호스트는 그대로 두고 경로만 "
        f"{path} 로 바꾸세요 (keep your JupyterLab tab's host, https://{host}, and use "
        "this path)."
    )
    # A space's own host is not known inside its container: allow every name under the
    # region's Studio domain (AWS owns it; a rebinding page cannot be served from it).
    return Where("studio", None, path, note, proxy_host=f".studio.{region}.sagemaker.aws")


def _jupyter(port: int, origin: str, base_url: str) -> Where:
    path = f"{base_url.rstrip('/')}/proxy/{port}/"
    if not origin:  # JupyterHub: the public address is the hub's
        note = "  JupyterHub: 지금 Jupyter 탭과 같은 주소에서 (on your Jupyter tab's host)."
        return Where("jupyter", None, path, note)
    host = urlsplit(origin).hostname or ""
    note = (
        f"  Jupyter 프록시 경유 (through Jupyter's proxy; needs jupyter-server-proxy) · "
        f"직접 (direct): http://127.0.0.1:{port}/"
    )
    proxy_host = None if host in ("127.0.0.1", "localhost", "::1", "") else host
    return Where("jupyter", origin + path, path, note, proxy_host)


def _cloud9(port: int, env: Mapping[str, str]) -> Where:
    env_id, region = env.get("C9_PID"), env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    host = f"{env_id}.vfs.cloud9.{region}.amazonaws.com" if env_id and region else None
    if port not in CLOUD9_PORTS:
        note = (
            "  Cloud9: 미리보기(Preview)는 8080-8082 포트만 됩니다. `chatkit serve --port 8080` "
            "으로 다시 시작하세요 (Cloud9 preview works only on ports 8080-8082: restart with "
            "`chatkit serve --port 8080`)."
        )
        return Where("cloud9", f"http://127.0.0.1:{port}/", note=note)
    note = "  Cloud9: Preview › Preview Running Application"
    url = f"https://{host}/" if host and port == 8080 else None
    return Where("cloud9", url, note=note, proxy_host=host)


def _jupyter_server(env: Mapping[str, str], runtime_dir: Path | None) -> tuple[str, str] | None:
    """``(origin, base_url)`` of the Jupyter server this process runs under, if any;
    origin is empty when only the path is known."""
    if env.get("JUPYTERHUB_SERVICE_PREFIX"):
        return "", env["JUPYTERHUB_SERVICE_PREFIX"]
    url = env.get("JUPYTER_SERVER_URL")  # a Jupyter terminal
    if not url and env.get("JPY_PARENT_PID", "").isdigit():  # a kernel
        info = _read_json(_runtime_dir(env, runtime_dir) / f"jpserver-{env['JPY_PARENT_PID']}.json")
        url = info.get("url") if isinstance(info, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parts.path or "/"


def _runtime_dir(env: Mapping[str, str], given: Path | None) -> Path:
    if given is not None:
        return given
    if env.get("JUPYTER_RUNTIME_DIR"):
        return Path(env["JUPYTER_RUNTIME_DIR"])
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        return Path.home() / ".local" / "share" / "jupyter" / "runtime"
    return Path(jupyter_runtime_dir())


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
