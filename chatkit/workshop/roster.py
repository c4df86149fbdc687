"""The class roster: a UTF-8 CSV file with a header, one attendee per row.

``user_id`` is required; ``model_id``, ``region`` and ``mode`` are optional (empty =
the command's default). Every problem is reported at once, naming its row (the line
number a spreadsheet shows) and column::

    user_id,model_id,region,mode
    minsu,,ap-northeast-2,offline
    jiwoo,apac.anthropic.claude-haiku-4-5-20251001-v1:0,,aws

    >>> [a.user_id for a in parse_roster_text("user_id\\nminsu\\njiwoo\\n")]
    ['minsu', 'jiwoo']
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, problem

__all__ = ["COLUMNS", "MODES", "Attendee", "parse_roster", "parse_roster_text"]

COLUMNS = ("user_id", "model_id", "region", "mode")
MODES = ("offline", "aws")

#: Safe in file names and DynamoDB table names (``--table-prefix``), any file system.
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


@dataclass(frozen=True)
class Attendee:
    """One roster row; empty optional fields mean "the command's default"."""

    user_id: str
    model_id: str = ""
    region: str = ""
    mode: str = ""
    row: int = 0


def parse_roster(path: str | Path) -> list[Attendee]:
    """Read and validate a roster file; raises :class:`InputError` listing every problem."""
    path = Path(path)
    where = (f"로스터 {path}", f"roster {path}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            [problem(*where, "파일을 읽을 수 없습니다", f"cannot read the file ({exc.strerror})")]
        ) from None
    try:
        text = data.decode("utf-8-sig")  # a spreadsheet's BOM is fine
    except UnicodeDecodeError as exc:
        raise InputError(
            [
                problem(
                    *where,
                    f"UTF-8 파일이 아닙니다 ({exc.start}번째 바이트)",
                    f"not UTF-8 (byte {exc.start}); save it as 'CSV UTF-8'",
                )
            ]
        ) from None
    return parse_roster_text(text)


def parse_roster_text(text: str) -> list[Attendee]:
    """Validate roster CSV text (see the module docs)."""
    reader = csv.reader(io.StringIO(unicodedata.normalize("NFC", text)), strict=True)
    try:
        records = [(reader.line_num, values) for values in reader]
    except csv.Error as exc:
        row = reader.line_num
        raise InputError(
            [problem(f"{row}행", f"row {row}", "CSV 형식 오류", f"malformed CSV ({exc})")]
        ) from None
    if not records:
        raise InputError(
            [
                problem(
                    "로스터",
                    "roster",
                    "비어 있습니다; 첫 줄은 user_id가 있는 헤더여야 합니다",
                    "empty; the first line must be a header with user_id",
                )
            ]
        )
    header_row, header = records[0]
    columns = _columns(header_row, header)
    problems: list[str] = []
    attendees: list[Attendee] = []
    seen: dict[str, int] = {}
    for row, values in records[1:]:
        values = [value.strip() for value in values]
        if not any(values):
            continue  # blank lines, or the ",,," rows spreadsheets append
        if len(values) != len(columns):
            problems.append(
                problem(
                    f"{row}행",
                    f"row {row}",
                    f"값이 {len(values)}개인데 헤더의 열은 {len(columns)}개입니다",
                    f"{len(values)} values but the header has {len(columns)} columns",
                )
            )
            continue
        fields = dict(zip(columns, values, strict=True))
        row_problems = _row_problems(row, fields, seen)
        problems += row_problems
        if not row_problems:
            attendees.append(
                Attendee(
                    user_id=fields["user_id"],
                    model_id=fields.get("model_id", ""),
                    region=fields.get("region", ""),
                    mode=fields.get("mode", "").lower(),
                    row=row,
                )
            )
    if not problems and not attendees:
        problems.append(
            problem("로스터", "roster", "참가자 행이 없습니다", "no attendee rows under the header")
        )
    if problems:
        raise InputError(problems)
    return attendees


def _columns(row: int, header: list[str]) -> list[str]:
    names = [name.strip().lower() for name in header]
    problems = []
    for index, name in enumerate(names, start=1):
        where = (f"{row}행 {index}열", f"row {row}, column {index}")
        if name not in COLUMNS:
            problems.append(
                problem(
                    *where,
                    f"알 수 없는 열 {name!r}; 쓸 수 있는 열: {', '.join(COLUMNS)}",
                    f"unknown column {name!r}; allowed: {', '.join(COLUMNS)}",
                )
            )
        elif names.index(name) != index - 1:
            problems.append(problem(*where, f"{name} 열이 두 번 있습니다", f"{name} appears twice"))
    if "user_id" not in names:
        problems.append(
            problem(
                f"{row}행 (헤더)",
                f"row {row} (header)",
                "user_id 열이 없습니다",
                "missing column user_id",
            )
        )
    if problems:
        raise InputError(problems)
    return names


def _row_problems(row: int, fields: dict[str, str], seen: dict[str, int]) -> list[str]:
    """The row's problems; a valid user id is recorded in ``seen`` (lower case → row)."""

    def bad(column: str, ko: str, en: str) -> str:
        return problem(f"{row}행 {column} 열", f"row {row}, column {column}", ko, en)

    problems = []
    user_id = fields["user_id"]
    if not user_id:
        problems.append(bad("user_id", "비어 있습니다", "empty"))
    elif not _USER_ID.fullmatch(user_id):
        problems.append(
            bad(
                "user_id",
                f"{user_id!r}: 영문자·숫자로 시작하고 영문자·숫자·. _ -만, 64자 이내",
                f"{user_id!r}: letters, digits, '.', '_', '-' only (starting with a letter or "
                "digit), at most 64",
            )
        )
    elif user_id.lower() in seen:
        first = seen[user_id.lower()]
        problems.append(
            bad(
                "user_id",
                f"{user_id!r}가 {first}행과 겹칩니다",
                f"{user_id!r} duplicates row {first}",
            )
        )
    else:
        seen[user_id.lower()] = row
    mode = fields.get("mode", "").lower()
    if mode and mode not in MODES:
        problems.append(
            bad(
                "mode",
                f"{mode!r}: offline 또는 aws",
                f"{mode!r}: use offline or aws (or leave empty)",
            )
        )
    region = fields.get("region", "")
    if region and not _REGION.fullmatch(region):
        problems.append(
            bad(
                "region",
                f"{region!r}: 리전 이름이 아닙니다 (예: ap-northeast-2)",
                f"{region!r} is not a region name (e.g. ap-northeast-2)",
            )
        )
    model_id = fields.get("model_id", "")
    if model_id and (len(model_id) > 2048 or any(ch.isspace() for ch in model_id)):
        problems.append(
            bad(
                "model_id",
                f"{model_id!r}: 공백이 없어야 합니다",
                f"{model_id!r} must not contain spaces",
            )
        )
    return problems
