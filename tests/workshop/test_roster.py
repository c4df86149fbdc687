"""Roster validation: every problem names its row and column, in Korean and English."""

from __future__ import annotations

import pytest

from chatkit.workshop.errors import InputError
from chatkit.workshop.roster import Attendee, parse_roster, parse_roster_text


def problems(text: str) -> list[str]:
    with pytest.raises(InputError) as caught:
        parse_roster_text(text)
    return caught.value.problems


def test_a_full_roster_is_read_in_order():
    text = (
        "user_id,model_id,region,mode\n"
        "minsu,,ap-northeast-2,offline\n"
        "jiwoo,apac.anthropic.claude-haiku-4-5-20251001-v1:0,,AWS\n"
    )
    assert parse_roster_text(text) == [
        Attendee("minsu", "", "ap-northeast-2", "offline", row=2),
        Attendee("jiwoo", "apac.anthropic.claude-haiku-4-5-20251001-v1:0", "", "aws", row=3),
    ]


def test_only_user_id_is_required_and_columns_may_come_in_any_order():
    assert parse_roster_text("mode, User_ID \n,minsu\naws,jiwoo\n") == [
        Attendee("minsu", row=2),
        Attendee("jiwoo", mode="aws", row=3),
    ]


def test_blank_rows_and_spreadsheet_padding_rows_are_skipped():
    text = "user_id,mode\nminsu,\n\n,\n  ,  \njiwoo,offline\n"
    assert [a.user_id for a in parse_roster_text(text)] == ["minsu", "jiwoo"]


def test_a_spreadsheet_bom_is_fine(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes("user_id\nminsu\n".encode("utf-8-sig"))
    assert parse_roster(path) == [Attendee("minsu", row=2)]


def test_missing_user_id_column():
    [line] = problems("mode\noffline\n")
    assert line == "1행 (헤더): user_id 열이 없습니다 (row 1 (header): missing column user_id)"


def test_unknown_column_is_named_with_its_position():
    lines = problems("user_id,modle_id\nminsu,x\n")
    assert lines == [
        "1행 2열: 알 수 없는 열 'modle_id'; 쓸 수 있는 열: user_id, model_id, region, mode "
        "(row 1, column 2: unknown column 'modle_id'; allowed: user_id, model_id, region, mode)"
    ]


def test_a_column_given_twice():
    [line] = problems("user_id,mode,mode\nminsu,aws,aws\n")
    assert line.startswith("1행 3열") and "row 1, column 3: mode appears twice" in line


def test_duplicate_user_ids_name_both_rows_even_with_other_case():
    [line] = problems("user_id\nminsu\njiwoo\nMinsu\n")
    assert (
        line.startswith("4행 user_id 열")
        and "row 4, column user_id: 'Minsu' duplicates row 2" in line
    )


def test_empty_and_unsafe_user_ids():
    lines = problems("user_id,mode\n,aws\n../etc,aws\n민수,aws\n" + "a" * 65 + ",aws\n")
    assert [line.split(":")[0] for line in lines] == [
        "2행 user_id 열",
        "3행 user_id 열",
        "4행 user_id 열",
        "5행 user_id 열",
    ]
    assert "row 2, column user_id: empty" in lines[0]
    assert all("letters, digits" in line for line in lines[1:])


def test_bad_mode_region_and_model_id():
    lines = problems(
        "user_id,model_id,region,mode\nminsu,,Seoul,cloud\njiwoo,global. claude,ap-northeast-2,\n"
    )
    assert lines == [
        "2행 mode 열: 'cloud': offline 또는 aws (row 2, column mode: 'cloud': use offline or aws "
        "(or leave empty))",
        "2행 region 열: 'Seoul': 리전 이름이 아닙니다 (예: ap-northeast-2) (row 2, column region: "
        "'Seoul' is not a region name (e.g. ap-northeast-2))",
        "3행 model_id 열: 'global. claude': 공백이 없어야 합니다 (row 3, column model_id: "
        "'global. claude' must not contain spaces)",
    ]


def test_a_row_with_too_many_or_too_few_values():
    lines = problems("user_id,mode\nminsu,aws,extra\njiwoo\n")
    assert lines == [
        "2행: 값이 3개인데 헤더의 열은 2개입니다 (row 2: 3 values but the header has 2 columns)",
        "3행: 값이 1개인데 헤더의 열은 2개입니다 (row 3: 1 values but the header has 2 columns)",
    ]


def test_every_problem_is_reported_at_once():
    lines = problems("user_id,mode\nminsu,cloud\nminsu,aws\n,offline\n")
    assert [line.split(":")[0] for line in lines] == [
        "2행 mode 열",
        "3행 user_id 열",
        "4행 user_id 열",
    ]


def test_malformed_csv_names_the_row():
    [line] = problems('user_id,mode\nminsu,aws\n"jiwoo,aws\n')
    assert line.startswith("4행: CSV 형식 오류") or line.startswith("3행: CSV 형식 오류"), line
    assert "malformed CSV" in line


def test_empty_file_and_header_only():
    assert "the first line must be a header" in problems("")[0]
    assert "no attendee rows" in problems("user_id,mode\n\n")[0]


def test_not_utf8_and_missing_file(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes("user_id\n민수\n".encode("cp949"))
    with pytest.raises(InputError, match=r"not UTF-8 \(byte 8\); save it as 'CSV UTF-8'"):
        parse_roster(path)
    with pytest.raises(InputError, match="cannot read the file"):
        parse_roster(tmp_path / "missing.csv")
