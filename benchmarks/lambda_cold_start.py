"""Cold import of the Lambda handlers from the built zip, python3.12: with the bundle's
hash-based ``.pyc`` files (what ``chatkit package`` ships) vs the same bundle compiled
from source at every start (the baseline: Lambda's ``/var/task`` is read-only, so a
bundle without ``.pyc`` files recompiles on every cold start). Run:

    .venv/bin/python -m benchmarks.lambda_cold_start [--n 7]
"""

from __future__ import annotations

import argparse

from benchmarks._common import summary, table
from chatkit.deploy.package import build_bundle
from chatkit.deploy.runtime import find_python312, measure_cold_import, unpack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=7, help="cold starts per variant")
    args = parser.parse_args()
    bundle = build_bundle()
    bundle_dir, python = unpack(bundle.path), find_python312()
    print(bundle.summary())
    runs: dict[bool, list] = {True: [], False: []}
    for _ in range(args.n):  # interleaved so machine noise hits both alike
        for use_pyc in runs:
            runs[use_pyc].append(measure_cold_import(bundle_dir, python, use_pyc=use_pyc))
    rows = []
    for part in ("handlers_ms", "chat_path_ms"):
        base = summary([getattr(t, part) for t in runs[False]])
        ours = summary([getattr(t, part) for t in runs[True]])
        for label, stats in (("source only (baseline)", base), ("bundle .pyc (ours)", ours)):
            rows.append([part, label, stats["p50"], stats["p90"], base["p50"] / stats["p50"]])
    print(table(["import", "variant", "p50 ms", "p90 ms", "speed-up ×"], rows))


if __name__ == "__main__":
    main()
