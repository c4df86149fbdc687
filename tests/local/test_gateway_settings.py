"""The local gateway's deployed handlers run on the settings it is given: two gateways in
one process, each on its own tables, share no backend and write nothing to ``os.environ``."""

from __future__ import annotations

import asyncio
import os
import uuid

import aiohttp
from backend_client import Served, ask

from chatkit.aws_clients import dynamodb_client
from chatkit.local.dynamodb import create_tables
from chatkit.local.gateway import Gateway


def fresh_tables(settings):
    suffix = uuid.uuid4().hex[:12]
    fresh = settings.with_(table_name=f"test-{suffix}", state_table_name=f"state-{suffix}")
    create_tables(dynamodb_client(fresh), fresh)
    return fresh


async def test_two_gateways_run_on_their_own_settings_and_leave_the_environment_alone(settings):
    environment = dict(os.environ)
    both = [settings, fresh_tables(settings)]
    gateways = [Gateway(settings=s, port=0, web_root=None) for s in both]
    for gateway in gateways:
        await asyncio.to_thread(gateway.start)
    try:
        assert dict(os.environ) == environment
        async with aiohttp.ClientSession() as http:
            served = [Served(gateway, http) for gateway in gateways]
            for index, one in enumerate(served):
                token = await one.login("minsu")
                async with one.connect(token) as ws:
                    reply = await ask(ws, f"r{index}", "!long 50 안녕")
                assert reply.last["type"] == "end"
            for index, one in enumerate(served):
                items = await one.items(await one.login("minsu"))
                assert [item["request_id"] for item in items] == [f"r{index}"]
    finally:
        for gateway in gateways:
            await asyncio.to_thread(gateway.stop)
    assert dict(os.environ) == environment
