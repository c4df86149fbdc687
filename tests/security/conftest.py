"""Fixtures for the security tests: the handlers in-process (``api``, ``backend``) and the
real backend on loopback (``serve``)."""

from __future__ import annotations

from backend_client import serve  # noqa: F401
from handler_client import api, backend  # noqa: F401
