"""boto3 clients built from :class:`Settings` — the only place endpoints are chosen.

Offline and AWS differ only in ``endpoint_url`` (and dummy credentials set by the
offline stack); the code path is otherwise the same. Clients are cached by what they
depend on (service, region, endpoint, timeouts, mode and the standard AWS variables), so a
warm Lambda, a long notebook session and settings that differ only in table names or
model reuse them::

    client = bedrock_runtime_client(Settings.from_env())
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from .config import Settings

__all__ = [
    "bedrock_client",
    "bedrock_runtime_client",
    "cognito_client",
    "dynamodb_client",
    "management_client",
    "preload_management_client",
]

USER_AGENT = "chatkit/0.1"
#: Connections a client keeps open (botocore's default is 10): a Lambda container runs one
#: invocation at a time, but ``chatkit serve`` runs a class's chats on shared clients, and a
#: full pool closes and reopens a connection per call.
MAX_POOL_CONNECTIONS = 64


def _config(max_attempts: int, read_timeout: int) -> Any:
    from botocore.config import Config

    return Config(
        connect_timeout=10,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        user_agent_extra=USER_AGENT,
        tcp_keepalive=True,
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )


def _aws_environment() -> tuple[tuple[str, str], ...]:
    """The standard variables that choose an endpoint, profile or region in aws mode: part
    of the cache key, so a changed ``AWS_ENDPOINT_URL_*`` never reuses an old client."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(_AWS_CHOICES)))


_AWS_CHOICES = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION",
                "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_ACCESS_KEY_ID")  # fmt: skip


def _client(service: str, settings: Settings) -> Any:
    bedrock = service.startswith("bedrock")
    endpoints = {"cognito-idp": settings.cognito_endpoint, "dynamodb": settings.dynamodb_endpoint}
    return _cached_client(
        service,
        settings.bedrock_region if bedrock else settings.region,
        settings.bedrock_endpoint if bedrock else endpoints[service],
        settings.read_timeout if bedrock else 20,
        settings.max_attempts,
        settings.mode == "offline",
        _aws_environment(),
    )


@lru_cache(maxsize=16)
def _cached_client(
    service: str,
    region: str,
    endpoint: str | None,
    read_timeout: int,
    max_attempts: int,
    offline: bool,
    _environment: tuple,
) -> Any:
    import boto3

    # Offline endpoints accept any signature; dummy keys keep boto3 from searching for
    # (or using) real credentials.
    dummy = {"aws_access_key_id": "offline", "aws_secret_access_key": "offline"}
    return boto3.session.Session().client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        config=_config(max_attempts, read_timeout),
        **(dummy if offline else {}),
    )


def bedrock_runtime_client(settings: Settings) -> Any:
    """``bedrock-runtime`` (Converse/ConverseStream), long read timeout for long answers."""
    return _client("bedrock-runtime", settings)


def bedrock_client(settings: Settings) -> Any:
    """``bedrock`` control plane (list models / inference profiles) for the preflight."""
    return _client("bedrock", settings)


def dynamodb_client(settings: Settings) -> Any:
    return _client("dynamodb", settings)


def cognito_client(settings: Settings) -> Any:
    """``cognito-idp`` of the user pool (admin calls such as a global sign-out)."""
    return _client("cognito-idp", settings)


@lru_cache(maxsize=4)
def _management_session(_environment: tuple) -> Any:
    """One boto3 session for the ``@connections`` clients: their model and endpoint rules
    are read once (~65 ms a session; a chat function's init reads them, see
    :func:`preload_management_client`, so the first chat after a restore does not)."""
    import boto3

    return boto3.session.Session()


def preload_management_client(settings: Settings) -> None:
    """Read the ``@connections`` client's model and endpoint rules now (a function's init:
    the endpoint comes with the first event). Connects nowhere, resolves no credentials."""
    _management_session(_aws_environment()).client(
        "apigatewaymanagementapi",
        region_name=settings.region,
        endpoint_url="https://preload.invalid",
        aws_access_key_id="preload",
        aws_secret_access_key="preload",
    )


def management_client(settings: Settings, endpoint: str) -> Any:
    """``apigatewaymanagementapi`` for one API's ``@connections`` endpoint (short timeouts:
    a post that hangs would stall the stream)."""
    environment = _aws_environment()
    return _management_client(settings.region, endpoint, settings.mode == "offline", environment)


@lru_cache(maxsize=16)
def _management_client(region: str, endpoint: str, offline: bool, environment: tuple) -> Any:
    from botocore.config import Config

    dummy = {"aws_access_key_id": "offline", "aws_secret_access_key": "offline"}
    return _management_session(environment).client(
        "apigatewaymanagementapi",
        region_name=region,
        endpoint_url=endpoint,
        config=Config(
            connect_timeout=3,
            read_timeout=10,
            user_agent_extra=USER_AGENT,
            retries={"mode": "standard", "total_max_attempts": 2},
            max_pool_connections=MAX_POOL_CONNECTIONS,
        ),
        **(dummy if offline else {}),
    )
