"""The Lambda zip: reproducible, only the runtime, importable by python3.12 from the zip
alone, well under Lambda's size limit."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile

import pytest

from chatkit.cli import main
from chatkit.deploy.package import (
    LAMBDA_UNZIPPED_LIMIT,
    LEFT_OUT,
    ZIP_TIME,
    _release_key,
    build_bundle,
)
from chatkit.deploy.runtime import LAMBDA_ENV, isolated_command, measure_cold_import, unpack

NOT_IN_LAMBDA = (
    "IPython/",
    "ipywidgets/",
    "ipykernel/",
    "jupyter",
    "nbformat/",
    "notebook/",
    "moto/",
    "aiohttp/",
    "anywidget/",
    "chatkit/local/",
    "chatkit/web/",
    "chatkit/deploy/",
    "chatkit/workshop/",
    "chatkit_widgets/",
)


def test_the_same_inputs_give_the_same_zip(lambda_bundle):
    rebuilt = build_bundle(force=True)
    assert not rebuilt.cached and rebuilt.path == lambda_bundle.path
    assert rebuilt.sha256 == lambda_bundle.sha256


def test_zip_holds_the_runtime_and_nothing_for_jupyter(lambda_bundle):
    with zipfile.ZipFile(lambda_bundle.path) as bundle:
        entries = bundle.infolist()
    names = [e.filename for e in entries]
    assert names == sorted(names)
    assert {e.date_time for e in entries} == {ZIP_TIME}
    for required in ("chatkit/aws/handlers.py", "boto3/__init__.py", "langchain_aws/__init__.py"):
        assert required in names
    assert not [n for n in names if n.startswith(NOT_IN_LAMBDA)]
    assert lambda_bundle.unzipped_bytes == sum(e.file_size for e in entries)
    assert lambda_bundle.unzipped_bytes < LAMBDA_UNZIPPED_LIMIT


def test_the_zip_is_lean(lambda_bundle):
    """numpy, zstandard, … (:data:`LEFT_OUT`: no function imports them) and type stubs stay
    out: ≤ 40 MB zipped, ≤ 120 MB unzipped (62–65 MB / 169–177 MB with them)."""
    with zipfile.ZipFile(lambda_bundle.path) as bundle:
        names = bundle.namelist()
    tops = {name.split("/")[0].split("-")[0].split(".")[0].lower() for name in names}
    assert not tops & set(LEFT_OUT), tops & set(LEFT_OUT)
    assert not [n for n in names if n.endswith(".pyi") or "/tests/" in n]
    metadata = [n for n in names if n.endswith(".dist-info/METADATA")]  # importlib.metadata
    assert any(n.startswith(("langchain_core-", "langsmith-", "urllib3-")) for n in metadata)
    assert lambda_bundle.zipped_bytes <= 40 * 10**6, lambda_bundle.summary()
    assert lambda_bundle.unzipped_bytes <= 120 * 10**6, lambda_bundle.summary()


def test_the_zip_name_changes_with_what_is_left_out(monkeypatch):
    """A cached zip is reused only for the same exclusion list."""
    lean, full = _release_key("deps", lean=True), _release_key("deps", lean=False)
    monkeypatch.setitem(LEFT_OUT, "pyyaml", "a new entry")
    assert len({lean, full, _release_key("deps", lean=True)}) == 3


def test_pyc_files_are_hash_based_and_point_at_var_task(lambda_bundle, python312):
    """Lambda's /var/task is read-only: without .pyc files every cold start compiles."""
    assert lambda_bundle.compiled_with == python312
    pyc = unpack(lambda_bundle.path) / "chatkit/aws/__pycache__/handlers.cpython-312.pyc"
    data = pyc.read_bytes()
    assert int.from_bytes(data[4:8], "little") == 0b01  # hash-based, unchecked: no mtime
    script = (
        "import marshal, importlib.util; "
        f"data = open({str(pyc)!r}, 'rb').read(); "
        "assert data[:4] == importlib.util.MAGIC_NUMBER; "
        "print(marshal.loads(data[16:]).co_filename)"
    )
    out = subprocess.run([python312, "-I", "-c", script], capture_output=True, text=True)
    assert out.stdout.strip() == "/var/task/chatkit/aws/handlers.py", out.stderr


def test_every_core_module_imports_from_the_zip_alone(lambda_bundle, python312):
    bundle_dir = unpack(lambda_bundle.path)
    modules = sorted(
        ".".join(p.relative_to(bundle_dir).with_suffix("").parts).removesuffix(".__init__")
        for p in (bundle_dir / "chatkit").rglob("*.py")
    )
    script = (
        "import importlib\n"
        f"for name in {modules!r}:\n"
        "    module = importlib.import_module(name)\n"
        "    assert module.__file__.startswith(sys.path[0]), module.__file__\n"
        "import chatkit.aws.handlers as h\n"
        "assert all(callable(getattr(h, n)) for n in h.__all__)\n"
        "try:\n"
        "    import chatkit.local\n"
        "except ModuleNotFoundError:\n"
        "    print('ok')\n"
    )
    result = subprocess.run(
        isolated_command(python312, bundle_dir, script), capture_output=True, text=True
    )
    assert result.stdout.strip() == "ok", result.stderr[-2000:]
    assert "chatkit.aws.handlers" in modules and "chatkit.session" in modules


def test_cold_import_is_measured_from_the_bundle(lambda_bundle, python312):
    times = measure_cold_import(unpack(lambda_bundle.path), python312)
    assert times.handlers_ms > 0 and times.chat_path_ms > 0
    assert "ms" in str(times)


def test_package_command_prints_path_sizes_hash_and_import_time(lambda_bundle, capsys):
    assert main(["package"]) == 0
    out = capsys.readouterr().out
    assert str(lambda_bundle.path) in out and lambda_bundle.sha256 in out
    assert "MB zipped" in out and "MB unzipped" in out and "(cached)" in out
    assert "cold import" in out


#: A function's init from the zip, as Lambda runs it (``_HANDLER`` set): which parts of the
#: chat path it loaded, every socket connection it tried (none may be in a snapshot), and
#: every import of a distribution the zip leaves out.
_INIT = (
    f"LEFT_OUT = {sorted(LEFT_OUT)!r}"
    + """
import json, sys
connects, tried = [], set()
sys.addaudithook(lambda event, args: event == "socket.connect" and connects.append(repr(args[1])))
class LeftOut:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in LEFT_OUT:
            tried.add(name.partition(".")[0])
sys.meta_path.insert(0, LeftOut())
import chatkit.aws.handlers as handlers
import chatkit.aws_clients as clients
chat_path = ("chatkit.session", "chatkit.llm", "langchain_aws", "botocore.client")
print(json.dumps({
    "loaded": [name for name in chat_path if name in sys.modules],
    "built": handlers._backend is not None,
    "session": handlers._backend is not None and "session" in vars(handlers._backend),
    "connects": connects,
    "left_out_tried": sorted(tried),
    "management_preloaded": clients._management_session.cache_info().currsize,
}))
"""
)

FUNCTIONS = {  # handler → the sign-in it runs with
    "ws_default": "demo",
    "ws_connect": "demo",
    "ws_disconnect": "demo",
    "http_history": "demo",
    "http_login": "demo",
    "ws_authorize": "cognito",
}


def function_init(bundle_dir, python, handler, auth):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        **LAMBDA_ENV,
        "_HANDLER": f"chatkit.aws.handlers.{handler}",
        "CHATKIT_AUTH": auth,
        "CHATKIT_COGNITO_USER_POOL_ID": "ap-northeast-2_Ab12",
        "CHATKIT_COGNITO_CLIENT_ID": "client1",
    }
    result = subprocess.run(
        isolated_command(python, bundle_dir, _INIT), capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


#: Left-out distributions a function's init may try to import: each one inside a
#: ``try/except ImportError`` with a fallback (httpx2, which langsmith imports, decodes and
#: langsmith compresses with zstandard only if it is there).
OPTIONAL = {"zstandard"}


@pytest.mark.parametrize("handler", sorted(FUNCTIONS))
def test_every_function_inits_from_the_lean_zip(lambda_bundle, python312, handler):
    """Each function's full init (for the chat function: the whole chat path) runs from the
    lean zip alone (``-I -S``): a release that starts importing a left-out distribution
    fails here (ModuleNotFoundError) or shows up as a new import attempt; the chat itself
    runs from this zip in test_zip_invoker.py."""
    report = function_init(unpack(lambda_bundle.path), python312, handler, FUNCTIONS[handler])
    assert set(report["left_out_tried"]) <= OPTIONAL, report["left_out_tried"]
    assert report["built"] is True


@pytest.mark.parametrize("handler", sorted(FUNCTIONS))
def test_only_the_chat_function_loads_the_chat_path_at_init(lambda_bundle, python312, handler):
    """SnapStart snapshots what the init loaded: the chat function (``ws_default``) imports
    and builds the chat path there (session, langchain-aws's model, the clients), so the
    first chat after a restore does not; the others do not pay for it. No init opens a
    connection (creating a boto3 client connects nowhere), so none is in a snapshot."""
    report = function_init(unpack(lambda_bundle.path), python312, handler, FUNCTIONS[handler])
    assert report["built"] is True and report["connects"] == []
    if handler == "ws_default":
        assert report["session"] is True
        assert report["management_preloaded"] == 1  # @connections model read in the snapshot
        assert report["loaded"] == [
            "chatkit.session",
            "chatkit.llm",
            "langchain_aws",
            "botocore.client",
        ]
    else:
        assert report["session"] is False and report["management_preloaded"] == 0
        assert not {"chatkit.session", "chatkit.llm", "langchain_aws"} & set(report["loaded"])


_LATE_SECRET = """
import logging, os, boto3
logging.basicConfig()  # Lambda's runtime has a root handler before it imports the handler
import chatkit.aws.handlers as handlers
assert handlers._backend is None, "the failed init left a backend"
boto3.client("secretsmanager").create_secret(
    Name=os.environ["CHATKIT_AUTH_SECRET_ARN"], SecretString="readable-now"
)
print(handlers.backend().settings.auth_secret)
"""


def test_an_init_that_cannot_read_the_secret_yet_leaves_it_to_the_first_invocation(
    lambda_bundle, python312, stack
):
    """While SnapStart publishes a version, the role's new policy may not be in effect yet:
    the init logs the failure instead of failing the publish, and the first invocation
    reads the secret (here: it exists only after the init)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        **LAMBDA_ENV,
        "_HANDLER": "chatkit.aws.handlers.http_history",
        "CHATKIT_AUTH_SECRET_ARN": f"chatkit-late-{os.urandom(4).hex()}",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": stack.dynamodb_url,
    }
    result = subprocess.run(
        isolated_command(python312, unpack(lambda_bundle.path), _LATE_SECRET),
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "readable-now"
    assert "init failed" in result.stderr and "ResourceNotFoundException" in result.stderr
