"""Bad instructor input (a roster row, a notebook number): one exception listing every
problem, each in Korean with English alongside and naming the row and column::

    >>> str(InputError([problem("3행 mode 열", "row 3, column mode", "값이 잘못됨", "bad value")]))
    '3행 mode 열: 값이 잘못됨 (row 3, column mode: bad value)'
"""

from __future__ import annotations

__all__ = ["InputError", "problem"]


def problem(where_ko: str, where_en: str, ko: str, en: str) -> str:
    """One problem as a line: ``<where>: <Korean> (<where>: <English>)``."""
    return f"{where_ko}: {ko} ({where_en}: {en})"


class InputError(ValueError):
    """Input that cannot be used; ``problems`` holds one bilingual line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))
