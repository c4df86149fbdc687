"""The packaged zip really runs: the local API Gateway invokes the handlers **from the
built zip** in a python3.12 process (``ZipInvoker``) against the offline stack, and
``chatkit smoke --url`` streams a Korean answer through it and reads it back from
``/history`` — what moto cannot do (run Lambda code, API Gateway v2)."""

from __future__ import annotations

import asyncio

import pytest
from handler_client import handler_env

from chatkit.cli import main
from chatkit.deploy.smoke import Endpoints, run_smoke
from chatkit.history import HistoryStore
from chatkit.local.gateway import Gateway
from chatkit.local.zip_invoker import ZipInvoker


def zip_gateway(bundle, settings, python):
    invoker = ZipInvoker(bundle.path, env=handler_env(settings), python=python)
    return invoker, Gateway(invoker=invoker, port=0, web_root=None)


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
