"""A Cognito user pool on the local moto server (the one the local DynamoDB runs on), for
Cognito mode offline: the real boto3 ``cognito-idp`` API, real RS256 access tokens and a
real JWKS endpoint. Set up like the template's pool: username sign-in, an app client
without a secret allowing SRP and refresh-token sign-in, token revocation on::

    pool = create_user_pool(stack.dynamodb_url)
    pool.add_user("minsu", "Passw0rd!한글")
    pool.env        # CHATKIT_AUTH=cognito and the pool's ids for the handlers

Limits of the stand-in (moto 5): it answers ``USER_SRP_AUTH`` without checking the SRP
proof (the web client's SRP math is tested against an independent implementation
instead); ``USER_PASSWORD_AUTH`` passwords are checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from ..config import DEFAULT_REGION

__all__ = ["LocalUserPool", "create_user_pool"]

#: As in infra/template.yaml: 15 minutes of access (the web client refreshes), a workshop
#: day of refresh.
ACCESS_TOKEN_MINUTES = 15
REFRESH_TOKEN_DAYS = 1


def _client(endpoint: str, region: str) -> Any:
    return boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="offline",
        aws_secret_access_key="offline",
    )


@dataclass(frozen=True)
class LocalUserPool:
    """A pool and its app client on ``endpoint``."""

    endpoint: str
    region: str
    pool_id: str
    client_id: str

    @property
    def client(self) -> Any:
        return _client(self.endpoint, self.region)

    @property
    def env(self) -> dict[str, str]:
        """The variables that put the handlers (and ``Settings``) in Cognito mode."""
        return {
            "CHATKIT_AUTH": "cognito",
            "CHATKIT_COGNITO_USER_POOL_ID": self.pool_id,
            "CHATKIT_COGNITO_CLIENT_ID": self.client_id,
            "CHATKIT_COGNITO_ENDPOINT": self.endpoint,
        }

    def add_user(self, username: str, password: str) -> str:
        """A confirmed user with a permanent password; returns its ``sub`` (the user id
        chatkit keys history by)."""
        user = self.client.admin_create_user(
            UserPoolId=self.pool_id, Username=username, MessageAction="SUPPRESS"
        )["User"]
        self.client.admin_set_user_password(
            UserPoolId=self.pool_id, Username=username, Password=password, Permanent=True
        )
        return next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")

    def sign_in(self, username: str, password: str) -> dict[str, Any]:
        """``AuthenticationResult`` (AccessToken, RefreshToken, …) of a password sign-in —
        for tests and scripts; the web client signs in with SRP."""
        return self.client.initiate_auth(
            ClientId=self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )["AuthenticationResult"]


def create_user_pool(
    endpoint: str, region: str = DEFAULT_REGION, name: str = "chatkit-users"
) -> LocalUserPool:
    """A new pool with one app client on the moto server at ``endpoint``."""
    client = _client(endpoint, region)
    pool_id = client.create_user_pool(
        PoolName=name,
        Policies={"PasswordPolicy": {"MinimumLength": 8}},
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
    )["UserPool"]["Id"]
    client_id = client.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="chatkit-web",
        GenerateSecret=False,
        # USER_PASSWORD_AUTH only for tests and scripts here; the deployed client allows SRP
        # and refresh only (the password never leaves the browser).
        ExplicitAuthFlows=[
            "ALLOW_USER_SRP_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
            "ALLOW_USER_PASSWORD_AUTH",
        ],
        AccessTokenValidity=ACCESS_TOKEN_MINUTES,
        RefreshTokenValidity=REFRESH_TOKEN_DAYS,
        TokenValidityUnits={"AccessToken": "minutes", "RefreshToken": "days"},
        EnableTokenRevocation=True,
        PreventUserExistenceErrors="ENABLED",
    )["UserPoolClient"]["ClientId"]
    return LocalUserPool(endpoint, region, pool_id, client_id)
