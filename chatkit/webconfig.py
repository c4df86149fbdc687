"""The web client's settings, ``window.CHATKIT_CONFIG`` in the ``config.js`` beside
``index.html``, as one value: the local gateway serves it, the deploy writes it to the web
bucket and ``chatkit smoke`` reads it back. It carries the texts of every error code
(:func:`chatkit.errors.error_texts`), so the web client keeps no copy of them::

    >>> config = WebConfig("wss://w.example/prod", "https://h.example", mode="aws")
    >>> WebConfig.from_js(config.to_js()) == config
    True
    >>> config.to_dict()["errors"]["not_saved"].startswith("답변을 기록에 저장하지")
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import Settings
from .errors import error_texts

__all__ = ["WebConfig"]

_PREFIX = "window.CHATKIT_CONFIG = "


@dataclass(frozen=True)
class WebConfig:
    """Where the web client connects and how it signs in.

    ``ws_url`` and ``http_url`` relative to the page (the local gateway's ``"ws"`` and
    ``"."``: they also work under a path prefix such as jupyter-server-proxy's) or absolute
    (a deployment's APIs); ``cognito`` is ``{"region", "userPoolId", "clientId"[,
    "endpoint"]}`` for Cognito sign-in; ``max_question_chars`` the backend's limit (the
    question box takes no more).
    """

    ws_url: str = "ws"
    http_url: str = "."
    mode: str = "offline"
    auth: str = "demo"
    cognito: Mapping[str, str] | None = None
    max_question_chars: int = Settings.max_question_chars

    @classmethod
    def for_settings(cls, settings: Settings, **where: str) -> WebConfig:
        """The config for a backend run with ``settings`` (its mode, sign-in, user pool and
        question limit); ``where`` gives ``ws_url``/``http_url``.

        >>> WebConfig.for_settings(Settings(auth="cognito", cognito_user_pool_id="p",
        ...     cognito_client_id="c")).cognito
        {'region': 'ap-northeast-2', 'userPoolId': 'p', 'clientId': 'c'}
        """
        cognito = None
        if settings.auth == "cognito":
            cognito = {
                "region": settings.region,
                "userPoolId": settings.cognito_user_pool_id or "",
                "clientId": settings.cognito_client_id or "",
            }
            if settings.cognito_endpoint:
                cognito["endpoint"] = settings.cognito_endpoint
        return cls(
            **where,
            mode=settings.mode,
            auth=settings.auth,
            cognito=cognito,
            max_question_chars=settings.max_question_chars,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WebConfig:
        """The value of a ``window.CHATKIT_CONFIG`` object; missing keys take the defaults,
        ``errors`` and unknown keys are not read (the texts are always this server's)."""
        return cls(
            ws_url=data.get("wsUrl") or cls.ws_url,
            http_url=data.get("httpUrl") or cls.http_url,
            mode=data.get("mode") or cls.mode,
            auth=data.get("auth") or cls.auth,
            cognito=dict(data["cognito"]) if data.get("cognito") else None,
            max_question_chars=int(data.get("maxQuestionChars") or cls.max_question_chars),
        )

    @classmethod
    def from_js(cls, script: str) -> WebConfig:
        """The config in a ``config.js`` (what :meth:`to_js` wrote, or a gateway served)."""
        return cls.from_dict(json.loads(script.partition("=")[2].strip().removesuffix(";")))

    def to_dict(self) -> dict[str, Any]:
        """``window.CHATKIT_CONFIG``: camelCase keys, with ``errors`` (code → message)."""
        data: dict[str, Any] = {
            "wsUrl": self.ws_url,
            "httpUrl": self.http_url,
            "mode": self.mode,
            "auth": self.auth,
            "maxQuestionChars": self.max_question_chars,
        }
        if self.cognito:
            data["cognito"] = dict(self.cognito)
        return {**data, "errors": error_texts()}

    def to_js(self) -> str:
        """The ``config.js`` script (UTF-8 text, Korean as it is)."""
        return f"{_PREFIX}{json.dumps(self.to_dict(), ensure_ascii=False)};\n"
