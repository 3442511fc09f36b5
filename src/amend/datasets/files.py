"""Reading a dataset file into raw records, whatever its layout.

Real files come as a JSON array (compact on one line, or indented), or as JSON Lines; with LF or CRLF line ends;
with raw UTF-8 or ``\\uXXXX`` escapes; sometimes with a byte-order mark. All of these read the same. A file that
is not JSON at all is a :class:`~amend.errors.DatasetError`; one bad line of a JSON Lines file is only that
record's problem (a :class:`BadLine` in its place), so validation can list it with the others.

"Not JSON" includes what is JSON but beyond Python's parser: values nested deeper than the recursion limit allows,
and integers longer than ``sys.get_int_max_str_digits()`` (4300 digits). Python raises ``RecursionError`` and a plain
``ValueError`` for those, not ``JSONDecodeError``; no benchmark record holds either, so both are refused like a
syntax error rather than escaping as errors that name no file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amend.errors import DatasetError

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class BadLine:
    """A JSON Lines line that does not parse, kept in place of its record."""

    line: int
    problem: str


@dataclass(frozen=True)
class BadRecord:
    """A record its format's reader already found bad (an OKEDIT annotation whose question is ambiguous), kept in
    its place so that it is listed with the others rather than stopping the whole file."""

    record_id: str | int | None
    field: str
    problem: str


def read_text(path: str | Path) -> str:
    """The file's text, decoded as UTF-8 (a byte-order mark is dropped)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DatasetError(f"{path}: not UTF-8 text (byte {err.start}: {err.reason})") from None


class _Unparsed(ValueError):
    """Why a text is not one JSON value Python can read: a syntax error (at ``line``, ``column``) or not."""

    def __init__(self, problem: str, line: int | None = None, column: int | None = None):
        self.problem, self.line, self.column = problem, line, column
        super().__init__(f"line {line}, column {column}: {problem}" if line is not None else problem)


def _loads(text: str) -> Any:
    """``json.loads``, every way it refuses a text raised as :class:`_Unparsed`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise _Unparsed(err.msg, err.lineno, err.colno) from None
    except RecursionError:
        raise _Unparsed("values nested too deeply for Python's JSON parser") from None
    except ValueError as err:  # an integer literal over sys.get_int_max_str_digits() digits
        raise _Unparsed(f"a number Python will not read: {err}") from None


def read_json(path: str | Path) -> Any:
    """One JSON value from a file, with the file and position named if it does not parse."""
    text = read_text(path)
    try:
        return _loads(text)
    except _Unparsed as err:
        raise DatasetError(f"{path}: not valid JSON ({err})") from None


def read_records(path: str | Path) -> list[Any]:
    """The records of a JSON array file, or of a JSON Lines file (one record per non-blank line).

    A file holding a single JSON object is one record.
    """
    text = read_text(path)
    stripped = text.lstrip()
    if not stripped:
        raise DatasetError(f"{path}: the file is empty")
    if stripped.startswith("["):
        records = read_json(path)
        if not isinstance(records, list):
            raise DatasetError(f"{path}: expected a JSON array of records")
        return records
    try:
        return [_loads(text)]
    except _Unparsed as whole:
        lines = [(n, line) for n, line in enumerate(_LINE_BREAK.split(text), start=1) if line.strip()]
        first = _line_record(*lines[0])
        if isinstance(first, BadLine):
            raise DatasetError(f"{path}: neither JSON nor JSON Lines ({whole})") from None
        return [first, *(_line_record(n, line) for n, line in lines[1:])]


def _line_record(number: int, line: str) -> Any:
    """The record on one JSON Lines line, or a :class:`BadLine` saying why it is none.

    Lines end at LF, CRLF or CR only (as JSON Lines defines them): ``str.splitlines`` would also split at U+2028,
    U+2029 and U+0085, which JSON strings may hold raw (``json.dumps(..., ensure_ascii=False)`` writes them so).
    """
    try:
        return _loads(line)
    except _Unparsed as err:
        where = f"column {err.column}: " if err.column is not None else ""
        return BadLine(number, f"line {number} is not valid JSON ({where}{err.problem})")
