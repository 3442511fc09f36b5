"""Reading a dataset file into raw records, whatever its layout.

Real files come as a JSON array (compact on one line, or indented), or as JSON Lines; with LF or CRLF line ends;
with raw UTF-8 or ``\\uXXXX`` escapes; sometimes with a byte-order mark. All of these read the same. A file that
is not JSON at all is a :class:`~amend.errors.DatasetError`; one bad line of a JSON Lines file is only that
record's problem (a :class:`BadLine` in its place), so validation can list it with the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amend.errors import DatasetError


@dataclass(frozen=True)
class BadLine:
    """A JSON Lines line that does not parse, kept in place of its record."""

    line: int
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


def read_json(path: str | Path) -> Any:
    """One JSON value from a file, with the file and position named if it does not parse."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DatasetError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from None


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
        return [json.loads(text)]
    except json.JSONDecodeError as whole:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if not _parses(lines[0][1]):
            raise DatasetError(
                f"{path}: neither JSON nor JSON Lines (line {whole.lineno}, column {whole.colno}: {whole.msg})"
            ) from None
        return [_line_record(n, line) for n, line in lines]


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def _line_record(number: int, line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        return BadLine(number, f"line {number} is not valid JSON (column {err.colno}: {err.msg})")
