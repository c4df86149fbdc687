"""``chatkit serve``'s gateway from Node (gateway.test.mjs): ``ws`` signs in and streams a
Korean answer, ``@aws-sdk/client-apigatewaymanagementapi`` with default settings posts,
reads and closes the connection on the loopback ``@connections`` endpoint."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from backend_client import wait_for

HERE = Path(__file__).parent


async def test_the_gateway_from_node_with_ws_and_the_management_sdk(
    serve,
    node,
    node_modules,
):
    served = await serve()
    gateway = served.gateway
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ACCESS_KEY_ID": "offline",
        "AWS_SECRET_ACCESS_KEY": "offline",
        "AWS_REGION": "ap-northeast-2",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "CHATKIT_URL": gateway.url,
        "CHATKIT_CONNECTIONS_ENDPOINT": gateway.management_url,
    }
    process = await asyncio.create_subprocess_exec(  # not `--test`: it would run the file
        node,  # in a child process of its own, without this stdin
        "--test-reporter=tap",
        "gateway.test.mjs",
        cwd=HERE,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )

    async def node_connected() -> list[str]:
        return list(gateway._connections)

    (connection_id,) = await wait_for(node_connected, timeout=60)
    process.stdin.write(f"{connection_id}\n".encode())
    await process.stdin.drain()
    process.stdin.close()
    try:
        output = (await asyncio.wait_for(process.stdout.read(), 120)).decode()
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
    assert process.returncode == 0, output[-6000:]
    assert re.search(r"^# pass 1$", output, re.MULTILINE), output[-6000:]
    assert re.search(r"^# fail 0$", output, re.MULTILINE), output[-6000:]
