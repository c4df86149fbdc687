"""boto3 clients for one AWS account and region — the real one, or a stand-in such as
moto (``endpoint_url``) for rehearsals.

    >>> aws = Aws("ap-northeast-2")                 # doctest: +SKIP
    >>> aws.account_id                               # doctest: +SKIP
    '123456789012'
    >>> aws.client("cloudformation").list_stacks()   # doctest: +SKIP
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any

from ..config import DEFAULT_REGION, region_from_env

__all__ = ["DEFAULT_REGION", "Aws", "resolve_region"]


def resolve_region(explicit: str | None = None) -> str:
    """``explicit``, else the region aws-mode settings read from the environment
    (:func:`chatkit.config.region_from_env`: ``CHATKIT_REGION`` / ``AWS_REGION`` /
    ``AWS_DEFAULT_REGION``, the profile's, else Seoul).

    >>> resolve_region("eu-west-1")
    'eu-west-1'
    """
    return explicit or region_from_env(mode="aws")


def _service_endpoint_variable(service: str) -> str:
    """The standard per-service endpoint variable: ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``."""
    return "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_").replace(" ", "_")


class Aws:
    """Cached boto3 clients for ``region``; ``endpoint_url`` and ``credentials``
    (``aws_access_key_id``/``aws_secret_access_key``) point them at a stand-in, and
    ``endpoints`` one service at another (``{"bedrock-runtime": url}``). A service's
    standard ``AWS_ENDPOINT_URL_<SERVICE>`` variable, when set, wins over ``endpoint_url``."""

    def __init__(
        self,
        region: str,
        *,
        endpoint_url: str | None = None,
        credentials: dict[str, str] | None = None,
        endpoints: dict[str, str] | None = None,
    ) -> None:
        import boto3

        self.region = region
        self.endpoint_url = endpoint_url
        self.endpoints = dict(endpoints or {})
        self._session = boto3.session.Session(region_name=region, **(credentials or {}))
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str | None = None) -> Any:
        from botocore.config import Config

        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self._session.client(
                service,
                region_name=key[1],
                endpoint_url=self._endpoint(service),
                config=Config(retries={"mode": "standard"}, user_agent_extra="chatkit-deploy"),
            )
        return self._clients[key]

    def _endpoint(self, service: str) -> str | None:
        if service in self.endpoints:
            return self.endpoints[service]
        if os.environ.get(_service_endpoint_variable(service)):
            return None  # botocore reads it
        return self.endpoint_url

    @cached_property
    def account_id(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]

    def __repr__(self) -> str:
        where = self.endpoint_url or "AWS"
        return f"<Aws {self.region} via {where}>"
