"""The packaged zip really runs: the local API Gateway invokes the handlers **from the
built zip** in a python3.12 process (``ZipInvoker``) against the offline stack, and
``chatkit smoke --url`` streams a Korean answer through it and reads it back from
``/history`` — what moto cannot do (run Lambda code, API Gateway v2). In Cognito mode the
``$connect`` authorizer runs from the zip too (PyJWT and its crypto built for Lambda)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
import websockets
from handler_client import handler_env

from chatkit.auth import DemoTokens
from chatkit.cli import main
from chatkit.cognito import CognitoTokens
from chatkit.config import Settings
from chatkit.deploy.smoke import Endpoints, run_smoke
from chatkit.deploy.zip_invoker import ZipInvoker
from chatkit.history import HistoryStore
from chatkit.local.cognito import create_user_pool
from chatkit.local.gateway import Gateway


def zip_gateway(bundle, settings, python, pool=None):
    """The gateway running the zip's handlers; with a local user pool, in Cognito mode as
    ``chatkit serve`` runs it (authorizers on, ``auth`` in its ``config.js``)."""
    env = handler_env(settings) | (pool.env if pool else {})
    invoker = ZipInvoker(bundle.path, env=env, python=python)
    if pool is None:
        return invoker, Gateway(invoker=invoker, port=0, web_root=None)
    tokens = CognitoTokens.from_settings(Settings.from_env(env))
    config = {"auth": "cognito"}
    return invoker, Gateway(
        invoker=invoker, port=0, web_root=None, static_config=config, cognito=tokens
    )


def test_smoke_streams_a_korean_answer_through_the_zip(lambda_bundle, python312, settings, capsys):
    invoker, gateway = zip_gateway(lambda_bundle, settings, python312)
    with gateway:
        assert invoker.info["python"].startswith("3.12.")
        assert invoker.info["chatkit"].startswith(str(invoker.bundle_dir))
        assert main(["smoke", "--url", gateway.url]) == 0
        out = capsys.readouterr().out
        assert "✓ smoke OK" in out and "데모 모델" in out
        result = asyncio.run(run_smoke(Endpoints.local(gateway.url), question="부산 추천해줘"))
    assert result.ok, result.summary()
    stored = HistoryStore.from_settings(settings).get(result.user_id, result.request_id)
    assert (stored.answer, stored.status) == (result.answer, "completed")
    assert "부산" in result.answer and result.deltas >= 1


def test_smoke_reports_what_went_wrong(lambda_bundle, python312, settings):
    _, gateway = zip_gateway(lambda_bundle, settings, python312)
    with gateway:
        result = asyncio.run(run_smoke(Endpoints.local(gateway.url), question="!fail-after 2 안녕"))
    assert not result.ok and result.end["type"] == "error"
    assert any("model_error" in problem for problem in result.problems)
    assert "✗ smoke FAILED" in result.summary()


def test_a_bundle_without_the_handlers_does_not_start(tmp_path, python312):
    invoker = ZipInvoker(tmp_path, python=python312, start_timeout=30)
    with pytest.raises(RuntimeError, match="did not start"):
        invoker.start({})


def test_cognito_sign_in_runs_from_the_zip(lambda_bundle, python312, settings, stack, capsys):
    """``chatkit smoke`` finds the gateway in Cognito mode and checks the refusals; a pool
    user's access token passes the zip's authorizer and chats."""
    pool = create_user_pool(stack.dynamodb_url)
    username = f"zip-{uuid.uuid4().hex[:8]}"
    sub = pool.add_user(username, "Passw0rd-zip")
    token = pool.sign_in(username, "Passw0rd-zip")["AccessToken"]
    _, gateway = zip_gateway(lambda_bundle, settings, python312, pool)
    with gateway:
        assert main(["smoke", "--url", gateway.url]) == 0
        out = capsys.readouterr().out
        assert "✓ smoke OK (Cognito)" in out and "WebSocket, invalid token → 401" in out
        assert "POST /login → 404" in out and "infra/README.md" in out

        async def chat() -> list[dict]:
            url = f"{Endpoints.local(gateway.url).ws_url}?token={urllib.parse.quote(token)}"
            async with websockets.connect(url, proxy=None) as ws:
                message = {"type": "chat", "request_id": "zip-1", "text": "!rate 0 안녕"}
                await ws.send(json.dumps(message, ensure_ascii=False))
                frames = [json.loads(await asyncio.wait_for(ws.recv(), 60))]
                while frames[-1]["type"] not in ("end", "error"):
                    frames.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
                return frames

        frames = asyncio.run(chat())
    assert frames[-1]["type"] == "end", frames[-1]
    stored = HistoryStore.from_settings(settings).get(sub, "zip-1")  # keyed by the sub
    assert stored.status == "completed"


def test_cognito_smoke_fails_where_the_demo_sign_in_is_open(lambda_bundle, python312, settings):
    _, gateway = zip_gateway(lambda_bundle, settings, python312)
    with gateway:
        result = asyncio.run(run_smoke(Endpoints.local(gateway.url, auth="cognito")))
    assert not result.ok and "✗ smoke FAILED (Cognito)" in result.summary()
    assert result.problems == ["POST /login: HTTP 200, expected 404"]


def test_the_zip_reads_the_demo_secret_from_secrets_manager_once(
    lambda_bundle, python312, settings, stored_secret
):
    """Deployed, the functions get only the secret's ARN (``CHATKIT_AUTH_SECRET_ARN``) and
    read its value from Secrets Manager when the backend is built (moto's Secrets Manager
    here, reached through the standard ``AWS_ENDPOINT_URL_SECRETS_MANAGER``): a token
    signed with that value is accepted, one signed with the public default is not."""
    value, secret_env = stored_secret
    invoker = ZipInvoker(
        lambda_bundle.path, env=handler_env(settings) | secret_env, python=python312
    )
    with Gateway(invoker=invoker, port=0, web_root=None) as gateway:

        def history_status(token: str) -> int:
            request = urllib.request.Request(
                f"{gateway.url}/history", headers={"Authorization": f"Bearer {token}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return response.status
            except urllib.error.HTTPError as err:
                return err.code

        signed, _ = DemoTokens(value).issue("비밀-사용자")
        forged, _ = DemoTokens(Settings().auth_secret).issue("비밀-사용자")
        assert [history_status(signed), history_status(forged)] == [200, 401]
