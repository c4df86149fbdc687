"""Cold import of the Lambda handlers from the built zip, python3.12:

1. with the bundle's hash-based ``.pyc`` files (what ``chatkit package`` ships) vs the same
   bundle compiled from source at every start (the baseline: Lambda's ``/var/task`` is
   read-only, so a bundle without ``.pyc`` files recompiles on every cold start);
2. where the chat function pays for the chat path (``chatkit.session`` + langchain-aws):
   on its first chat (lazy, the old way: after a SnapStart restore, every new container
   pays it) vs in its init (``_HANDLER`` set, as on Lambda: the snapshot holds it, the
   first chat after a restore pays nothing). Run:

    .venv/bin/python -m benchmarks.lambda_cold_start [--n 7]
"""

from __future__ import annotations

import argparse

from benchmarks._common import summary, table
from chatkit.deploy.package import build_bundle
from chatkit.deploy.runtime import find_python312, measure_cold_import, unpack

CHAT_HANDLER = "chatkit.aws.handlers.ws_default"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=7, help="cold starts per variant")
    args = parser.parse_args()
    bundle = build_bundle()
    bundle_dir, python = unpack(bundle.path), find_python312()
    print(bundle.summary())
    variants = {
        "source only, lazy chat path (baseline)": {"use_pyc": False},
        "bundle .pyc, lazy chat path": {},
        "bundle .pyc, chat path at init (ours)": {"handler": CHAT_HANDLER},
    }
    runs: dict[str, list] = {label: [] for label in variants}
    for _ in range(args.n):  # interleaved so machine noise hits all alike
        for label, options in variants.items():
            runs[label].append(measure_cold_import(bundle_dir, python, **options))
    rows = []
    for label, times in runs.items():
        init = summary([t.handlers_ms for t in times])
        first = summary([t.chat_path_ms for t in times])
        rows.append([label, init["p50"], first["p50"], first["p90"]])
    print(
        table(
            ["variant", "init p50 ms (in snapshot)", "first chat +p50 ms", "+p90 ms"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
