"""Which ``Host`` and ``Origin`` a local listener answers: the guard against DNS rebinding.

A web page the user visits can make its own name resolve to 127.0.0.1 and then talk to
a loopback server as "same origin"; its requests still carry the page's name in
``Host``. So every listener chatkit starts answers only a loopback address, ``localhost``,
the address it is bound to, or a name listed in ``CHATKIT_ALLOWED_HOSTS`` (comma
separated, for a proxy that keeps the browser's ``Host``; an entry starting with a dot,
``.studio.ap-northeast-2.sagemaker.aws``, allows every name under it — a rebinding page
cannot have a name under a domain it does not own).

>>> host_allowed("127.0.0.1:8765", bound="127.0.0.1")
True
>>> host_allowed("localhost", bound="127.0.0.1")
True
>>> host_allowed("evil.example:8765", bound="127.0.0.1")
False
>>> host_allowed("ab12.studio.x.sagemaker.aws", "127.0.0.1", [".studio.x.sagemaker.aws"])
True
>>> origin_allowed("http://localhost:8765")
True
>>> origin_allowed("https://evil.example")
False
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from urllib.parse import urlsplit

#: The status a refused ``Host`` gets ("Misdirected Request") and its bilingual text.
REFUSED_STATUS = 421
REFUSED_TEXT = (
    "이 서버는 localhost로만 접속할 수 있습니다. (This server only answers localhost; "
    "set CHATKIT_ALLOWED_HOSTS for a proxy.)"
)


def extra_hosts(environ: dict[str, str] | None = None) -> frozenset[str]:
    """The names in ``CHATKIT_ALLOWED_HOSTS`` (lower case)."""
    raw = (environ if environ is not None else os.environ).get("CHATKIT_ALLOWED_HOSTS", "")
    return frozenset(name.strip().lower() for name in raw.split(",") if name.strip())


def _name(host: str) -> str:
    """``host[:port]`` → the name alone (``[::1]:80`` → ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_loopback(name: str) -> bool:
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _listed(name: str, allowed: frozenset[str]) -> bool:
    """``name`` is an allowed name, or under an allowed ``.domain``."""
    return name in allowed or any(
        entry.startswith(".") and name.endswith(entry) for entry in allowed
    )


def host_allowed(host: str | None, bound: str, extra: Iterable[str] | None = None) -> bool:
    """True when a request's ``Host`` names this machine's loopback, the bound address or
    an allowed name; a missing ``Host`` (HTTP/1.0 tools) is allowed."""
    if not host:
        return True
    name = _name(host)
    allowed = extra_hosts() if extra is None else frozenset(extra)
    return _is_loopback(name) or name == _name(bound) or _listed(name, allowed)


def origin_allowed(origin: str | None, extra: Iterable[str] | None = None) -> bool:
    """True for a page served from loopback (or an allowed name); no ``Origin`` is a
    non-browser client and is allowed."""
    if not origin:
        return True
    name = (urlsplit(origin).hostname or "").lower()
    allowed = extra_hosts() if extra is None else frozenset(extra)
    return _is_loopback(name) or _listed(name, allowed)
