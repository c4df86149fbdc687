"""Run the workshop notebooks for a whole class with papermill, in parallel, resumably.

Each attendee is one job for a bounded pool of worker *processes* (a worker sets its
environment for the attendee, and every notebook gets its own kernel). An attendee is
isolated by

- their own ``user_id`` (papermill parameter) — every history item they write is keyed by it;
- their own environment: ``CHATKIT_MODEL_ID`` / ``CHATKIT_REGION`` from the roster, and
  with ``table_prefix`` their own tables ``<prefix><user_id>-history`` / ``-state``;
- offline: a private Bedrock emulator per kernel and the class's **shared** DynamoDB
  (see :mod:`chatkit.workshop.kernel`), so "each attendee sees only their own history" is
  tested where it can fail.

Finished attendees leave ``<out>/<user_id>/result.json``; a rerun skips those whose
notebooks all passed (``skip USER_ID (done)``)::

    results = run_class(parse_roster("roster.csv"), select_notebooks(discover_notebooks(), "00,03"),
                        Path("runs"), workers=2)
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Settings
from ..local import ensure_offline_stack, exported
from .kernel import ATTACH_TAG, attach_cell_source
from .naming import DEFAULT_STACK_PREFIX, attendee_stacks, attendee_tables
from .notebooks import Notebook
from .report import write_report
from .results import AttendeeResult, NotebookResult, load_result
from .roster import Attendee

__all__ = ["Job", "run_attendee", "run_class"]

#: Kernel and papermill messages of an attendee's run, next to their notebooks.
KERNEL_LOG = "kernels.log"


@dataclass(frozen=True)
class Job:
    """One attendee's notebooks, as a worker process runs them (picklable)."""

    user_id: str
    mode: str
    notebooks: tuple[str, ...]
    directory: str
    #: ``mode``, ``user_id``, ``model_id``, ``region``, ``stack_name``, ``demo_rate``: each
    #: notebook gets those it declares
    parameters: dict[str, Any]
    #: Environment changes for the attendee's kernels; ``None`` removes a variable.
    env: dict[str, str | None] = field(default_factory=dict)
    #: Offline: insert the ``workshop-attach`` cell (see :mod:`chatkit.workshop.kernel`).
    attach: bool = False
    cell_timeout: int = 600
    kernel_name: str | None = None


def run_class(
    attendees: list[Attendee],
    notebooks: list[Notebook],
    out: Path,
    *,
    workers: int = 2,
    default_mode: str = "offline",
    demo_rate: float | None = None,
    table_prefix: str = "",
    stack_prefix: str = DEFAULT_STACK_PREFIX,
    cell_timeout: int = 600,
    kernel_name: str | None = None,
    progress: bool | None = True,
    echo: Callable[[str], None] = print,
) -> list[AttendeeResult]:
    """Run ``notebooks`` for every attendee not yet done; write the report; return every
    attendee's result in roster order (skipped ones from their ``result.json``).

    Raises :class:`~chatkit.workshop.errors.InputError` before running anything when a
    notebook deploys a stack (declares ``stack_name``) and a user id cannot name one."""
    out = Path(out)
    names = [nb.name for nb in notebooks]
    stacks = attendee_stacks(attendees, stack_prefix) if _deploys(notebooks) else {}
    results: dict[str, AttendeeResult] = {}
    todo = []
    for attendee in attendees:
        previous = load_result(out / attendee.user_id)
        if previous is not None and previous.done(names):
            echo(f"skip {attendee.user_id} (done)")
            results[attendee.user_id] = previous
        else:
            todo.append(attendee)
    if todo:
        jobs = _plan(
            todo,
            notebooks,
            out,
            default_mode=default_mode,
            demo_rate=demo_rate,
            table_prefix=table_prefix,
            stacks=stacks,
            cell_timeout=cell_timeout,
            kernel_name=kernel_name,
        )
        out.mkdir(parents=True, exist_ok=True)
        for result in _execute(jobs, workers, len(notebooks), progress):
            results[result.user_id] = result
    ordered = [results[a.user_id] for a in attendees]
    write_report(out, ordered, names)
    return ordered


# -- planning (parent process) --------------------------------------------------------


def _deploys(notebooks: list[Notebook]) -> bool:
    """Does a notebook deploy a stack (declare a ``stack_name`` parameter, as 07/08 do)?"""
    import papermill

    return any("stack_name" in papermill.inspect_notebook(str(nb.path)) for nb in notebooks)


def _plan(
    attendees: list[Attendee],
    notebooks: list[Notebook],
    out: Path,
    *,
    default_mode: str,
    demo_rate: float | None,
    table_prefix: str,
    stacks: dict[str, str],
    cell_timeout: int,
    kernel_name: str | None,
) -> list[Job]:
    base = Settings.from_env()
    modes = {a.user_id: a.mode or default_mode for a in attendees}
    offline = "offline" in modes.values()
    shared = ensure_offline_stack(base.with_(mode="offline")) if offline else None
    jobs = []
    for attendee in attendees:
        mode = modes[attendee.user_id]
        table, state_table = attendee_tables(attendee.user_id, table_prefix, base)
        env: dict[str, str | None] = {
            "CHATKIT_MODE": mode,
            "CHATKIT_ATTENDEE": attendee.user_id,  # not the instructor's IAM identity
            "CHATKIT_TABLE": table,
            "CHATKIT_STATE_TABLE": state_table,
        }
        if attendee.model_id:
            env["CHATKIT_MODEL_ID"] = attendee.model_id
        if attendee.region:
            env["CHATKIT_REGION"] = attendee.region
        if mode == "offline":
            assert shared is not None
            env.update(_offline_env(shared, attendee.region or shared.region, demo_rate))
            _create_tables(shared, table, state_table)
        elif table_prefix:  # their own tables in their account and region
            account = base.with_(mode="aws", region=attendee.region or base.region)
            _create_tables(account, table, state_table)
        parameters: dict[str, Any] = {"mode": mode, "user_id": attendee.user_id}
        optional = {
            "model_id": attendee.model_id,
            "region": attendee.region,
            "stack_name": stacks.get(attendee.user_id),
            "demo_rate": demo_rate,
            "approve": True,  # aws: 07/08 ask before changing the account; no one answers here
        }
        parameters.update({k: v for k, v in optional.items() if v not in (None, "")})
        jobs.append(
            Job(
                user_id=attendee.user_id,
                mode=mode,
                notebooks=tuple(str(nb.path) for nb in notebooks),
                directory=str(out / attendee.user_id),
                parameters=parameters,
                env=env,
                attach=mode == "offline",
                cell_timeout=cell_timeout,
                kernel_name=kernel_name,
            )
        )
    return jobs


def _offline_env(shared: Settings, region: str, demo_rate: float | None) -> dict[str, str | None]:
    """Point an offline attendee's kernels at the shared DynamoDB, never at real AWS."""
    return {
        "CHATKIT_DYNAMODB_ENDPOINT": shared.dynamodb_endpoint,
        "CHATKIT_BEDROCK_ENDPOINT": None,  # each kernel starts its own emulator
        **({} if demo_rate is None else {"CHATKIT_DEMO_RATE": str(demo_rate)}),
        "AWS_ACCESS_KEY_ID": "offline",
        "AWS_SECRET_ACCESS_KEY": "offline",
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }


def _create_tables(settings: Settings, table: str, state_table: str) -> None:
    from ..aws_clients import dynamodb_client
    from ..local.dynamodb import create_tables

    named = settings.with_(table_name=table, state_table_name=state_table)
    create_tables(dynamodb_client(named), named)


# -- the pool (parent process) ------------------------------------------------------------


def _execute(
    jobs: list[Job], workers: int, per_job: int, progress: bool | None
) -> list[AttendeeResult]:
    from tqdm.auto import tqdm

    context = multiprocessing.get_context("spawn")  # no fork of a process with server threads
    finished = context.Queue()
    # progress None: a bar only on a terminal (tqdm's own rule)
    bar = tqdm(
        total=len(jobs) * per_job,
        unit="notebook",
        disable=None if progress is None else not progress,
    )
    results = []
    with ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(jobs))),
        mp_context=context,
        initializer=_init_worker,
        initargs=(finished,),
    ) as pool:
        futures: dict[Future, Job] = {pool.submit(run_attendee, job): job for job in jobs}
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(finished, bar)
        _drain(finished, bar)
        for future, job in futures.items():
            try:
                results.append(future.result())
            except Exception as exc:  # a crashed worker: report it; a rerun retries
                results.append(_crashed(job, exc))
    bar.close()
    return results


def _drain(finished: Any, bar: Any) -> None:
    while True:
        try:
            user_id, notebook, status = finished.get_nowait()
        except Exception:  # queue.Empty
            return
        bar.set_postfix_str(f"{user_id} · {notebook} · {status}", refresh=False)
        bar.update(1)


def _crashed(job: Job, exc: BaseException) -> AttendeeResult:
    error = _one_line(f"{type(exc).__name__}: {exc}") or type(exc).__name__
    return AttendeeResult(
        job.user_id,
        [NotebookResult(Path(path).stem, "failed", 0.0, None, error) for path in job.notebooks],
        job.mode,
    )


# -- in a worker process ------------------------------------------------------------------

_finished: Any = None


def _init_worker(finished: Any) -> None:
    global _finished
    _finished = finished


def run_attendee(job: Job) -> AttendeeResult:
    """Run the attendee's notebooks in order (a failure does not stop the next one) and
    save ``result.json``."""
    directory = Path(job.directory)
    directory.mkdir(parents=True, exist_ok=True)
    results = []
    with exported(job.env), _stderr_to(directory / KERNEL_LOG):
        for path in job.notebooks:
            result = run_notebook(Path(path), job)
            results.append(result)
            if _finished is not None:
                _finished.put((job.user_id, result.notebook, result.status))
    attendee = AttendeeResult(job.user_id, results, job.mode)
    attendee.save(directory)
    return attendee


def run_notebook(path: Path, job: Job) -> NotebookResult:
    """Execute one notebook into the attendee's directory; a failure becomes a result."""
    import nbformat
    import papermill

    source = nbformat.read(path, as_version=4)
    source_ids = [cell.get("id") for cell in source.cells]
    declared = papermill.inspect_notebook(str(path))
    parameters = {k: v for k, v in job.parameters.items() if k in declared}
    output = Path(job.directory) / path.name
    started = time.perf_counter()
    try:
        papermill.execute_notebook(
            _with_attach_cell(source, job, declared) if job.attach else source,
            str(output),
            parameters=parameters,
            kernel_name=job.kernel_name,
            progress_bar=False,
            cwd=str(path.parent),  # as Jupyter runs it: relative paths keep working
            start_timeout=120,
            execution_timeout=job.cell_timeout,
        )
    except Exception as exc:  # any failure of the notebook is reported, not raised
        cell, error = _failure(output, source_ids, exc)
        return NotebookResult(
            path.stem, "failed", time.perf_counter() - started, cell, error, _relative(output, job)
        )
    return NotebookResult(
        path.stem, "ok", time.perf_counter() - started, output=_relative(output, job)
    )


def _with_attach_cell(nb: Any, job: Job, declared: Any) -> Any:
    """The ``workshop-attach`` cell right after the parameters cell; the emulator runs at
    the notebook's own ``demo_rate`` when it has one (papermill may have set it)."""
    import nbformat

    from ..local import DEFAULT_RATE

    rate = (
        "demo_rate"
        if "demo_rate" in declared
        else repr(float(job.parameters.get("demo_rate", DEFAULT_RATE)))
    )
    cell = nbformat.v4.new_code_cell(attach_cell_source(rate))
    cell.metadata["tags"] = [ATTACH_TAG]
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    nb.cells.insert(tagged[0] + 1 if tagged else 0, cell)
    return nb


def _failure(
    output: Path, source_ids: list[str | None], exc: BaseException
) -> tuple[int | None, str]:
    """(1-based cell number in the source notebook, one-line error) of a failed run."""
    import nbformat

    fallback = _one_line(f"{type(exc).__name__}: {getattr(exc, 'evalue', None) or exc}")
    try:
        executed = nbformat.read(output, as_version=4)
    except (OSError, ValueError):
        return None, fallback
    # a cell error marks its cell "failed"; a dead kernel or a timeout stops at the last
    # cell that started
    runs = [(c, c.metadata.get("papermill", {})) for c in executed.cells]
    failed = [c for c, run in runs if run.get("status") == "failed"]
    started = [c for c, run in runs if run.get("start_time")]
    cell = failed[0] if failed else (started[-1] if started else None)
    if cell is None:
        return None, fallback
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    error = _one_line(f"{errors[0].ename}: {errors[0].evalue}") if errors else fallback
    if cell.get("id") in source_ids:
        return source_ids.index(cell.get("id")) + 1, error
    return None, f"({ATTACH_TAG}) {error}" if ATTACH_TAG in cell.metadata.get("tags", []) else error


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _one_line(text: str, limit: int = 200) -> str:
    """``Name: first line that says something``, without colour codes, at most ``limit``."""
    clean = _ANSI.sub("", text)
    name, sep, rest = clean.partition(": ")
    if not sep or "\n" in name:
        name, rest = "", clean
    first = next((line.strip() for line in rest.splitlines() if line.strip()), "")
    line = f"{name}: {first}" if name and first else (name or first)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _relative(output: Path, job: Job) -> str:
    return f"{Path(job.directory).name}/{output.name}"


@contextlib.contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send this process's stderr — and so its kernels' — to ``path`` (kernel warnings and
    crashes end up next to the attendee's notebooks, not across the progress bar)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
