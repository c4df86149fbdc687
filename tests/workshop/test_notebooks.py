"""Notebooks are found by their number prefix and selected by number."""

from __future__ import annotations

import pytest

from chatkit.workshop.errors import InputError
from chatkit.workshop.notebooks import discover_notebooks, select_notebooks


@pytest.fixture
def folder(tmp_path):
    for name in (
        "00_setup.ipynb",
        "03_history.ipynb",
        "10_extra.ipynb",
        "notes.ipynb",
        "3_x.ipynb",
    ):
        (tmp_path / name).write_text("{}", encoding="utf-8")
    (tmp_path / "instructor").mkdir()
    (tmp_path / "instructor" / "05_class.ipynb").write_text("{}", encoding="utf-8")
    return tmp_path


def test_only_numbered_notebooks_directly_in_the_folder_count(folder):
    found = discover_notebooks(folder)
    assert [(nb.number, nb.name) for nb in found] == [
        ("00", "00_setup"),
        ("03", "03_history"),
        ("10", "10_extra"),
    ]


def test_the_repository_notebooks_are_found_without_a_list():
    names = [nb.name for nb in discover_notebooks()]
    assert names[:5] == [
        "00_setup",
        "01_bedrock_streaming",
        "02_memory",
        "03_dynamodb_history",
        "04_chat_session",
    ]
    assert names == sorted(names)


def test_select_by_number_in_number_order(folder):
    found = discover_notebooks(folder)
    assert [nb.number for nb in select_notebooks(found, "10, 0,3,03")] == ["00", "03", "10"]
    assert select_notebooks(found, None) == found
    assert select_notebooks(found, "") == found


def test_unknown_notebooks_are_named_with_what_exists(folder):
    with pytest.raises(InputError) as caught:
        select_notebooks(discover_notebooks(folder), "00,09,setup")
    assert caught.value.problems == [
        "--notebooks 2번째 값: 알 수 없는 노트북 '09'; 있는 번호: 00, 03, 10 "
        "(--notebooks value 2: unknown notebook '09'; available: 00, 03, 10)",
        "--notebooks 3번째 값: 알 수 없는 노트북 'setup'; 있는 번호: 00, 03, 10 "
        "(--notebooks value 3: unknown notebook 'setup'; available: 00, 03, 10)",
    ]


def test_a_missing_folder_and_duplicate_numbers(tmp_path, folder):
    with pytest.raises(InputError, match="not found; pass --notebooks-dir"):
        discover_notebooks(tmp_path / "nowhere")
    (folder / "03_again.ipynb").write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match="duplicate numbers: 03"):
        discover_notebooks(folder)
