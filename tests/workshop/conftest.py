"""Fixtures for the workshop tests: a class database in the session's offline stack and
small real notebooks to run with papermill."""

from __future__ import annotations

import uuid
from pathlib import Path

import nbformat
import pytest

from chatkit.aws_clients import dynamodb_client
from chatkit.local.dynamodb import create_tables


@pytest.fixture(scope="module")
def class_db(stack):
    """Fresh tables in the session's offline stack, and the environment pointing
    ``chatkit workshop`` at them (as the ``export`` lines of ``chatkit emulators`` would)."""
    suffix = uuid.uuid4().hex[:12]
    settings = stack.settings.with_(table_name=f"class-{suffix}", state_table_name=f"cs-{suffix}")
    create_tables(dynamodb_client(settings), settings)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "CHATKIT_MODE": "offline",
            "CHATKIT_BEDROCK_ENDPOINT": stack.bedrock_url,
            "CHATKIT_DYNAMODB_ENDPOINT": stack.dynamodb_url,
            "CHATKIT_TABLE": settings.table_name,
            "CHATKIT_STATE_TABLE": settings.state_table_name,
        }.items():
            patch.setenv(name, value)
        yield settings


PARAMETERS = "\n".join(
    [
        'mode = "offline"',
        'user_id = "learner-00"',
        "demo_rate = 50.0",
        'region = ""',
        'stack_name = "chatkit"',
        "approve = False",
    ]
)


@pytest.fixture
def write_notebook():
    """``write_notebook(path, *cells)`` (see :func:`_write_notebook`)."""
    return _write_notebook


def _write_notebook(path: Path, *cells: str) -> Path:
    """A notebook: a title, a ``parameters`` cell, then ``cells`` (``# md`` → markdown)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    parameters = nbformat.v4.new_code_cell(PARAMETERS)
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}"), parameters]
    for source in cells:
        if source.startswith("# md"):
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.write(nb, path)
    return path


@pytest.fixture
def printed():
    """``printed(path)``: everything an executed notebook printed, as one string."""

    def read(path: Path) -> str:
        nb = nbformat.read(path, as_version=4)
        return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))

    return read
