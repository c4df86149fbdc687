"""Local DynamoDB: moto's server on a loopback port, spoken to with the real boto3 client.

>>> with LocalDynamoDB() as db:          # doctest: +SKIP
...     create_history_table(client, "chatkit-history")
"""

from __future__ import annotations

import logging
from typing import Any, Self

from ..schema import HISTORY_TABLE, STATE_TABLE, TableSchema

__all__ = ["LocalDynamoDB", "create_history_table", "create_state_table", "create_tables"]


class LocalDynamoDB:
    """moto's threaded server on ``127.0.0.1`` (port 0 = a free port); in-memory state."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host, self._port = host, port
        self._server: Any = None

    def start(self) -> Self:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=self._host, port=self._port, verbose=False)
        self._server.start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def create_table(client: Any, schema: TableSchema, table_name: str) -> bool:
    """Create a table from its schema constant with TTL on; False if it already existed."""
    try:
        client.create_table(**schema.create_table_kwargs(table_name))
    except client.exceptions.ResourceInUseException:
        return False
    client.get_waiter("table_exists").wait(TableName=table_name)
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": schema.ttl_attribute},
    )
    return True


def create_history_table(client: Any, table_name: str) -> bool:
    """The history table (:data:`chatkit.schema.HISTORY_TABLE`)."""
    return create_table(client, HISTORY_TABLE, table_name)


def create_state_table(client: Any, table_name: str) -> bool:
    """The backend state table (:data:`chatkit.schema.STATE_TABLE`)."""
    return create_table(client, STATE_TABLE, table_name)


def create_tables(client: Any, settings: Any) -> None:
    """Both tables named in ``settings`` (idempotent)."""
    create_history_table(client, settings.table_name)
    create_state_table(client, settings.state_table_name)
