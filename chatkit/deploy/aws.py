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

__all__ = ["DEFAULT_REGION", "Aws", "resolve_region"]

DEFAULT_REGION = "ap-northeast-2"


def resolve_region(explicit: str | None = None) -> str:
    """``explicit``, else ``CHATKIT_REGION`` / ``AWS_REGION`` / ``AWS_DEFAULT_REGION``,
    else the AWS config's region, else Seoul."""
    if explicit:
        return explicit
    for name in ("CHATKIT_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(name):
            return os.environ[name]
    import boto3

    return boto3.session.Session().region_name or DEFAULT_REGION


class Aws:
    """Cached boto3 clients for ``region``; ``endpoint_url`` and ``credentials``
    (``aws_access_key_id``/``aws_secret_access_key``) point them at a stand-in."""

    def __init__(
        self,
        region: str,
        *,
        endpoint_url: str | None = None,
        credentials: dict[str, str] | None = None,
    ) -> None:
        import boto3

        self.region = region
        self.endpoint_url = endpoint_url
        self._session = boto3.session.Session(region_name=region, **(credentials or {}))
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str | None = None) -> Any:
        from botocore.config import Config

        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self._session.client(
                service,
                region_name=key[1],
                endpoint_url=self.endpoint_url,
                config=Config(retries={"mode": "standard"}, user_agent_extra="chatkit-deploy"),
            )
        return self._clients[key]

    @cached_property
    def account_id(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]

    def __repr__(self) -> str:
        where = self.endpoint_url or "AWS"
        return f"<Aws {self.region} via {where}>"
