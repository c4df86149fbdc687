"""Cognito mode: access tokens of a user pool (moto's cognito-idp on the local moto server,
real RS256 tokens and JWKS) verified by chatkit and by the local API Gateway's authorizers,
and sign-ins that end — expiry and revocation — for new and for open connections.

Tokens with chosen claims are signed with the pool's own private key (the one moto
publishes the public half of), so they are exactly what a misbehaving issuer could send.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from importlib import resources

import jwt
import pytest
import websockets
from backend_client import ask

from chatkit.cli import main as chatkit_main
from chatkit.cognito import CognitoTokens
from chatkit.config import Settings
from chatkit.errors import ChatError
from chatkit.local.cognito import LocalUserPool, create_user_pool

PASSWORD = "Passw0rd!한글"


@pytest.fixture(scope="module")
def pool(stack) -> LocalUserPool:
    return create_user_pool(stack.dynamodb_url)


@pytest.fixture
def user(pool) -> tuple[str, str]:
    """A new pool user: ``(username, sub)``."""
    name = f"user-{time.monotonic_ns()}"
    return name, pool.add_user(name, PASSWORD)


def cognito_settings(pool: LocalUserPool, **env: str) -> Settings:
    return Settings.from_env({"CHATKIT_MODE": "offline", **pool.env, **env})


def forged(pool: LocalUserPool, **claims) -> str:
    """A token signed with the pool's private key; claims default to a valid access token."""
    key = json.loads(
        gzip.decompress(
            resources.files("moto.cognitoidp")
            .joinpath("resources/jwks-private.json.gz")
            .read_bytes()
        )
    )
    now = int(time.time())
    payload = {
        "iss": f"https://cognito-idp.{pool.region}.amazonaws.com/{pool.pool_id}",
        "sub": "forged-sub",
        "client_id": pool.client_id,
        "token_use": "access",
        "iat": now,
        "exp": now + 600,
        **claims,
    }
    return jwt.encode(
        {k: v for k, v in payload.items() if v is not None},
        jwt.PyJWK.from_dict(key).key,
        algorithm="RS256",
        headers={"kid": key["kid"]},
    )


def test_a_pool_access_token_is_the_users_sub(pool, user):
    tokens = CognitoTokens.from_settings(cognito_settings(pool))
    identity = tokens.verify(pool.sign_in(user[0], PASSWORD)["AccessToken"])
    assert identity.user_id == user[1]
    assert identity.issued_at < identity.expires_at <= time.time() + 3600 + 5


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 1},  # expired
        {"token_use": "id"},  # an ID token is for the client, not for APIs
        {"client_id": "another-app-client"},
        {"iss": "https://cognito-idp.ap-northeast-2.amazonaws.com/another-pool"},
        {"sub": None},
        {"iat": None},
    ],
    ids=["expired", "id-token", "other-client", "other-pool", "no-sub", "no-iat"],
)
def test_tokens_that_are_not_this_clients_valid_access_tokens_are_refused(pool, claims):
    tokens = CognitoTokens.from_settings(cognito_settings(pool))
    assert tokens.verify(forged(pool)).user_id == "forged-sub"  # the forge itself is sound
    with pytest.raises(ChatError) as refused:
        tokens.verify(forged(pool, **claims))
    assert refused.value.code.value == "unauthorized"


def test_a_token_signed_by_another_key_or_unsigned_is_refused(pool, user):
    tokens = CognitoTokens.from_settings(cognito_settings(pool))
    real = pool.sign_in(user[0], PASSWORD)["AccessToken"]
    header, payload, signature = real.split(".")
    unsigned = jwt.encode(jwt.decode(real, options={"verify_signature": False}), None, "none")
    for token in (f"{header}.{payload}.{signature[::-1]}", unsigned, "", "not-a-jwt"):
        with pytest.raises(ChatError):
            tokens.verify(token)


async def test_the_gateway_authorizers_guard_every_route(serve, pool, user, monkeypatch):
    """$connect: the Lambda authorizer; /history: the JWT authorizer; /login is gone."""
    for name, value in pool.env.items():
        monkeypatch.setenv(name, value)
    served = await serve(cognito=CognitoTokens.from_settings(Settings.from_env()))
    token = pool.sign_in(user[0], PASSWORD)["AccessToken"]
    for bad in (None, "", "garbage", forged(pool, exp=int(time.time()) - 5)):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with served.connect(bad):
                pass
        assert refused.value.response.status_code == 401
        assert (await served.history(bad))[0] == 401
    async with served.http.post(served.gateway.url + "/login", json={"user_id": "x"}) as r:
        assert r.status == 404
    async with served.connect(token) as ws:
        reply = await ask(ws, "c1", "!rate 0 안녕하세요")
    assert reply.last["type"] == "end" and reply.text
    (item,) = await served.items(token)
    assert (item["request_id"], item["question"]) == ("c1", "!rate 0 안녕하세요")


async def test_revoking_a_user_closes_open_connections_and_refuses_old_tokens(
    serve, pool, user, settings, stack, monkeypatch
):
    for name, value in pool.env.items():
        monkeypatch.setenv(name, value)
    served = await serve(cognito=CognitoTokens.from_settings(Settings.from_env()))
    signed_in = pool.sign_in(user[0], PASSWORD)
    async with served.connect(signed_in["AccessToken"]) as ws:
        assert (await ask(ws, "r1", "!rate 0 첫 질문")).last["type"] == "end"
        assert chatkit_main(["revoke", user[1]]) == 0
        await ws.send(json.dumps({"type": "chat", "request_id": "r2", "text": "두 번째"}))
        frame = json.loads(await ws.recv())
        assert (frame["type"], frame["code"], frame["request_id"]) == (
            "error",
            "unauthorized",
            "r2",
        )
        assert "취소" in frame["message"] and "revoked" in frame["message"]
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()  # the server closed it
    with pytest.raises(websockets.InvalidStatus):
        async with served.connect(signed_in["AccessToken"]):
            pass
    assert (await served.history(signed_in["AccessToken"]))[0] == 401
    with pytest.raises(pool.client.exceptions.NotAuthorizedException):  # refresh revoked too
        pool.client.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": signed_in["RefreshToken"]},
        )
    await asyncio.sleep(1.01)  # a revocation refuses tokens issued up to its second
    fresh = pool.sign_in(user[0], PASSWORD)["AccessToken"]  # signing in again works
    assert [i["request_id"] for i in await served.items(fresh)] == ["r1"]  # r2 was not stored


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": 1e12},  # a float, however round
        {"exp": float(int(time.time()) + 600)},
        {"iat": int(time.time()) + 86400, "exp": int(time.time()) + 90000},  # issued tomorrow
        {"exp": int(time.time()) + 10 * 86400},  # valid for ten days
    ],
)
def test_pool_signed_tokens_with_insane_times_are_refused(pool, claims):
    tokens = CognitoTokens.from_settings(cognito_settings(pool))
    with pytest.raises(ChatError):
        tokens.verify(forged(pool, **claims))


async def test_signing_out_ends_that_sign_in_and_its_refreshed_tokens(
    serve, pool, user, monkeypatch
):
    """RevokeToken ends only the refresh token; the access tokens of the sign-in (and those
    refreshed from it: one ``origin_jti``) are refused by chatkit once the client said so."""
    for name, value in pool.env.items():
        monkeypatch.setenv(name, value)
    served = await serve(cognito=CognitoTokens.from_settings(Settings.from_env()))
    signed_in = pool.sign_in(user[0], PASSWORD)
    elsewhere = pool.sign_in(user[0], PASSWORD)["AccessToken"]  # another browser
    refreshed = pool.client.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": signed_in["RefreshToken"]},
    )["AuthenticationResult"]["AccessToken"]
    async with served.connect(signed_in["AccessToken"]) as ws:
        assert (await ask(ws, "o1", "!rate 0 안녕")).last["type"] == "end"
        await ws.send(json.dumps({"type": "sign_out"}))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
    for old in (signed_in["AccessToken"], refreshed):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with served.connect(old):
                pass
        assert refused.value.response.status_code == 401
        assert (await served.history(old))[0] == 401
    assert [i["request_id"] for i in await served.items(elsewhere)] == ["o1"]
