"""The Lambda zip and the chat function's cold start, python3.12, baseline in the same run:

1. **before / after** — the full zip (every dependency pip installs, the chat path built on
   the first chat) vs the lean zip (:data:`~chatkit.deploy.package.LEFT_OUT` left out) whose
   chat function builds the chat path at init (``_HANDLER`` set, as on Lambda: what a
   SnapStart snapshot holds). Each sample is a fresh process running the zip's handlers
   behind the local API Gateway (``ZipInvoker``) against the offline stack (demo model,
   no delay): "init" is the handlers' import (in the snapshot), "first chat" the first
   answer after it (chat frame sent → ``end`` frame), "warm chat" the next one, and
   "after restore" what the first chat pays over a warm one;
2. the handlers' import with the bundle's ``.pyc`` files vs compiled from source at every
   start (Lambda's ``/var/task`` is read-only). Run:

    .venv/bin/python -m benchmarks.lambda_cold_start [--n 5]
"""

from __future__ import annotations

import argparse
import asyncio

from benchmarks._common import summary, table
from chatkit.deploy.package import Bundle, build_bundle
from chatkit.deploy.runtime import find_python312, measure_cold_import, unpack
from chatkit.deploy.smoke import Endpoints, run_smoke
from chatkit.deploy.zip_invoker import ZipInvoker
from chatkit.local import offline_stack
from chatkit.local.gateway import Gateway

CHAT_HANDLER = "chatkit.aws.handlers.ws_default"
MB = 10**6


def chat_cold_start(bundle: Bundle, env: dict[str, str], python: str) -> tuple[float, ...]:
    """``(init ms, first chat ms, warm chat ms)`` of a fresh process running ``bundle``."""
    invoker = ZipInvoker(bundle.path, env=env, python=python)
    with Gateway(invoker=invoker, port=0, web_root=None) as gateway:
        chats = [asyncio.run(run_smoke(Endpoints.local(gateway.url))) for _ in range(2)]
    for chat in chats:
        if not chat.ok:
            raise RuntimeError(chat.summary())
    return (invoker.info["init_ms"], *(float(chat.total_ms) for chat in chats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5, help="cold starts per variant")
    args = parser.parse_args()
    python = find_python312()
    full, lean = build_bundle(lean=False), build_bundle()
    print(full.summary(), lean.summary(), sep="\n")
    variants = {  # label → (zip, the function's init)
        "before: full zip, chat path on the first chat": (full, {}),
        "lean zip, chat path on the first chat": (lean, {}),
        "after: lean zip, chat path at init (SnapStart)": (lean, {"_HANDLER": CHAT_HANDLER}),
    }
    runs: dict[str, list[tuple[float, ...]]] = {label: [] for label in variants}
    with offline_stack(rate=0, set_env=False) as stack:
        for _ in range(args.n):  # interleaved so machine noise hits all alike
            for label, (bundle, init_env) in variants.items():
                runs[label].append(chat_cold_start(bundle, stack.env | init_env, python))
    rows = []
    for label, samples in runs.items():
        bundle = variants[label][0]
        init, first, warm = (summary(column)["p50"] for column in zip(*samples, strict=True))
        extra = summary([sample[1] - sample[2] for sample in samples])["p50"]
        sizes = [bundle.zipped_bytes / MB, bundle.unzipped_bytes / MB]
        rows.append([label, *sizes, init, first, warm, extra])
    headers = ["variant", "zipped MB", "unzipped MB", "init ms (in snapshot)"]
    headers += ["first chat ms", "warm chat ms", "after restore ms (first - warm)"]
    print(f"\np50 of {args.n} cold starts each:\n" + table(headers, rows))

    bundle_dir = unpack(lean.path)
    imports = {"source only (baseline)": {"use_pyc": False}, "bundle .pyc (ours)": {}}
    times = {label: [] for label in imports}
    for _ in range(args.n):
        for label, options in imports.items():
            times[label].append(measure_cold_import(bundle_dir, python, **options).handlers_ms)
    rows = [[label, summary(ms)["p50"], summary(ms)["p90"]] for label, ms in times.items()]
    print("\nhandlers' import, lean zip:\n" + table(["variant", "p50 ms", "p90 ms"], rows))


if __name__ == "__main__":
    main()
