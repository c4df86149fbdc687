"""``chatkit workshop check|run|clean`` — registered into the ``chatkit`` command::

    chatkit workshop check [--mode offline|aws]
    chatkit workshop run --roster roster.csv --out runs/ [--notebooks 00,03] [--workers 2]
    chatkit workshop clean --roster roster.csv [--yes]

Bad input (roster, notebook numbers) exits with 2 before anything runs; failed notebooks
exit with 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..config import Settings
from .errors import InputError, problem
from .naming import DEFAULT_STACK_PREFIX, deploy_available
from .results import AttendeeResult
from .roster import MODES, Attendee

__all__ = ["register"]

CHECK_USER = "workshop-check"


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``workshop`` and its subcommands to the ``chatkit`` parser."""
    workshop = commands.add_parser(
        "workshop", help="instructor tools: check, run and clean up the notebooks of a class"
    )
    sub = workshop.add_subparsers(dest="workshop_command", required=True)

    check = sub.add_parser("check", help="run every notebook in order in a scratch directory")
    _common(check)
    check.set_defaults(run=_cmd_check)

    run = sub.add_parser("run", help="run the notebooks for every attendee of a roster")
    run.add_argument(
        "--roster", required=True, type=Path, help="CSV: user_id[,model_id,region,mode]"
    )
    run.add_argument("--out", required=True, type=Path, help="output directory (e.g. runs/)")
    run.add_argument(
        "--workers",
        type=_positive,
        default=os.cpu_count() or 1,
        help="attendees run at once (default: CPU count)",
    )
    run.add_argument("--table-prefix", default="", help="own tables <prefix><user_id>-history")
    run.add_argument(
        "--stack-prefix",
        default=DEFAULT_STACK_PREFIX,
        help=f"stack_name of notebooks 07/08: <prefix><user_id> (default {DEFAULT_STACK_PREFIX})",
    )
    _common(run)
    run.set_defaults(run=_cmd_run)

    clean = sub.add_parser("clean", help="remove the attendees' history (dry run unless --yes)")
    clean.add_argument("--roster", required=True, type=Path)
    clean.add_argument("--table-prefix", default="", help="as given to `workshop run`")
    clean.add_argument(
        "--stack-prefix",
        default=DEFAULT_STACK_PREFIX,
        help=f"attendee stacks <prefix><user_id> (default {DEFAULT_STACK_PREFIX}; aws mode)",
    )
    clean.add_argument("--region", help="the stacks' region (default: CHATKIT_REGION/AWS_REGION)")
    clean.add_argument("--endpoint-url", help="a stand-in AWS (moto) for a rehearsal")
    clean.add_argument("--yes", action="store_true", help="really remove (default: list only)")
    clean.set_defaults(run=_cmd_clean)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode", choices=MODES, help="default mode (default: CHATKIT_MODE / credentials)"
    )
    parser.add_argument("--notebooks", help="numbers, e.g. 00,03,04 (default: all)")
    parser.add_argument("--notebooks-dir", type=Path, help="default: the checkout's notebooks/")
    parser.add_argument(
        "--demo-rate",
        type=float,
        help="offline demo model tokens/s, e.g. 0 = no delay (default: each notebook's own)",
    )
    parser.add_argument("--cell-timeout", type=_positive, default=600, help="seconds per cell")
    parser.add_argument(
        "--kernel", help="Jupyter kernel name, e.g. chatkit (default: the notebooks' own, python3)"
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("1 이상이어야 합니다 (must be at least 1)")
    return value


def _bad_input(error: InputError) -> int:
    print(
        "잘못된 입력입니다. 아무것도 실행하지 않았습니다 (bad input; nothing was run):",
        file=sys.stderr,
    )
    for line in error.problems:
        print(f"  - {line}", file=sys.stderr)
    return 2


def _notebooks(args: argparse.Namespace) -> list:
    """The selected notebooks; also checks ``--kernel`` names an installed kernel."""
    from .notebooks import discover_notebooks, select_notebooks

    if args.kernel:
        from jupyter_client.kernelspec import KernelSpecManager

        installed = sorted(KernelSpecManager().find_kernel_specs())
        if args.kernel not in installed:
            raise InputError(
                [
                    problem(
                        "--kernel",
                        "--kernel",
                        f"설치되지 않은 커널 {args.kernel!r}; 있는 커널: {', '.join(installed)}",
                        f"no kernel named {args.kernel!r}; installed: {', '.join(installed)}",
                    )
                ]
            )
    return select_notebooks(discover_notebooks(args.notebooks_dir), args.notebooks)


def _run(
    args: argparse.Namespace, attendees: list[Attendee], notebooks: list, out: Path, workers: int
) -> list[AttendeeResult]:
    from .runner import run_class

    return run_class(
        attendees,
        notebooks,
        out,
        workers=workers,
        default_mode=args.mode or Settings.from_env().mode,
        demo_rate=args.demo_rate,
        table_prefix=getattr(args, "table_prefix", ""),
        stack_prefix=getattr(args, "stack_prefix", DEFAULT_STACK_PREFIX),
        cell_timeout=args.cell_timeout,
        kernel_name=args.kernel,
        progress=None,
    )


def _cmd_check(args: argparse.Namespace) -> int:
    from .report import failure_text, text_table

    try:
        notebooks = _notebooks(args)
    except InputError as error:
        return _bad_input(error)
    scratch = Path(tempfile.mkdtemp(prefix="chatkit-check-"))
    [result] = _run(args, [Attendee(CHECK_USER, mode=args.mode or "")], notebooks, scratch, 1)
    rows = [
        [
            nb.notebook,
            "ok" if nb.ok else "FAILED",
            f"{nb.seconds:.1f} s",
            "" if nb.ok else failure_text(nb),
        ]
        for nb in result.notebooks
    ]
    print(
        text_table(
            ["노트북 (notebook)", "상태 (status)", "시간 (duration)", "첫 실패 (first failure)"],
            rows,
        )
    )
    if result.ok:
        shutil.rmtree(scratch, ignore_errors=True)
        print(f"\n모든 노트북 통과 (all {len(rows)} notebooks passed, mode {result.mode})")
        return 0
    print(
        "\n실패한 노트북이 있습니다 (some notebooks failed); "
        f"실행된 노트북 (executed notebooks): {scratch}"
    )
    return 1


def _cmd_run(args: argparse.Namespace) -> int:
    from .report import failure_text, text_table
    from .roster import parse_roster

    try:
        attendees = parse_roster(args.roster)
        notebooks = _notebooks(args)
        results = _run(args, attendees, notebooks, args.out, args.workers)
    except InputError as error:
        return _bad_input(error)
    rows = []
    for result in results:
        failed = [nb for nb in result.notebooks if not nb.ok]
        first = f"{failed[0].notebook} · {failure_text(failed[0])}" if failed else ""
        rows.append(
            [result.user_id, "ok" if result.ok else "FAILED", f"{result.seconds:.1f} s", first]
        )
    print(
        text_table(
            ["참가자 (attendee)", "상태 (status)", "시간 (duration)", "첫 실패 (first failure)"],
            rows,
        )
    )
    print(f"\n보고서 (report): {args.out / 'report.html'}  ·  {args.out / 'report.md'}")
    return 0 if all(r.ok for r in results) else 1


def _cmd_clean(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from .clean import apply_clean, format_plan, has_history, plan_clean
    from .roster import parse_roster

    settings = Settings.from_env()
    try:
        attendees = parse_roster(args.roster)
        aws = _stack_account(args, settings)
        plan = plan_clean(
            attendees, settings, args.table_prefix, stack_prefix=args.stack_prefix, aws=aws
        )
    except InputError as error:
        return _bad_input(error)
    except (ClientError, BotoCoreError) as error:
        print(f"AWS 오류 (AWS error): {error}", file=sys.stderr)
        return 1
    if has_history(settings):
        where = settings.dynamodb_endpoint or settings.region
        print(f"DynamoDB {where} · 기록 테이블 (history table) {settings.table_name}")
    else:
        print(
            "오프라인 모드의 기록은 실행이 끝나면 사라지므로 지울 기록이 없습니다; "
            "공유 DynamoDB를 쓰려면 `chatkit emulators`의 export 줄을 먼저 실행하세요 "
            "(offline history ends with its run: no history to clean; to keep a shared "
            "DynamoDB, run the `export` lines of `chatkit emulators` first)."
        )
    if aws is not None:
        print(f"CloudFormation: {aws!r} · 스택 (stacks) {args.stack_prefix}<user_id>")
    print(format_plan(plan))
    counts = (
        f"아이템 (items) {sum(r.items for r in plan)}, "
        f"테이블 (tables) {sum(len(r.tables) for r in plan)}, "
        f"스택 (stacks) {sum(len(r.stacks) for r in plan)}"
    )
    if not args.yes:
        print(
            f"\n시험 실행입니다. 지울 것: {counts}. 지우려면 --yes를 붙이세요 "
            "(dry run: nothing removed; add --yes to remove them)."
        )
        return 0
    try:
        apply_clean(plan, settings, aws)
    except (ClientError, BotoCoreError) as error:
        print(f"AWS 오류 (AWS error): {error}", file=sys.stderr)
        return 1
    print(f"\n지웠습니다 (removed): {counts}")
    return 0


def _stack_account(args: argparse.Namespace, settings: Settings) -> Any:
    """The account to look for attendee stacks in (``chatkit.deploy``'s ``Aws``): in aws
    mode or with ``--endpoint-url``, when this checkout has ``chatkit.deploy``."""
    if not (settings.mode == "aws" or args.endpoint_url) or not deploy_available():
        return None
    from ..deploy.aws import Aws

    region = args.region or settings.region
    if args.endpoint_url:  # a stand-in account (moto) for rehearsals, as `chatkit destroy`
        dummy = {"aws_access_key_id": "stand-in", "aws_secret_access_key": "stand-in"}
        return Aws(region, endpoint_url=args.endpoint_url, credentials=dummy)
    return Aws(region)
