"""The Lambda side of :class:`chatkit.deploy.zip_invoker.ZipInvoker` — standard library only.

Started as ``python3.12 -I -S _zip_worker.py BUNDLE_DIR``: only the unzipped bundle and
the standard library are importable (as ``/var/task`` on Lambda), so the handlers come
from the zip, never from the repository. It imports ``chatkit.aws.handlers`` (the
functions' init), then reads one JSON request per line on stdin and answers one JSON line
per request on the original stdout, running each invocation in its own thread::

    → {"id": 1, "function": "ws_default", "event": {...}, "timeout": 300}
    ← {"id": 1, "result": {"statusCode": 200}}        or {"id": 1, "error": "KeyError: …"}

The first line it writes is ``{"ready": {"chatkit": <path>, "python": "3.12.1", "init_ms": …}}``.
Whatever the handlers print goes to stderr.
"""

import importlib
import json
import os
import sys
import threading
import time
import traceback
import uuid


class Context:
    """The parts of Lambda's ``context`` that handlers use."""

    def __init__(self, function_name, timeout):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = "1024"
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main():
    sys.path.insert(0, sys.argv[1])
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # handler output goes to stderr; stdout carries replies only
    lock = threading.Lock()

    def reply(message):
        line = json.dumps(message, ensure_ascii=False)
        with lock:
            replies.write(line + "\n")
            replies.flush()

    started = time.perf_counter()
    handlers = importlib.import_module("chatkit.aws.handlers")
    chatkit = sys.modules["chatkit"]
    reply(
        {
            "ready": {
                "chatkit": chatkit.__file__,
                "python": sys.version.split()[0],
                "init_ms": round((time.perf_counter() - started) * 1000, 1),
            }
        }
    )

    def invoke(request):
        try:
            function = getattr(handlers, request["function"])
            result = function(request["event"], Context(request["function"], request["timeout"]))
            reply({"id": request["id"], "result": result})
        except Exception as err:
            traceback.print_exc()
            reply({"id": request["id"], "error": f"{type(err).__name__}: {err}"})

    for line in sys.stdin.buffer:
        request = json.loads(line)
        threading.Thread(target=invoke, args=(request,), daemon=True).start()


if __name__ == "__main__":
    main()
