"""Reading the text of a dump (layer 2): lines, and the bounds on them.

Every line-oriented parser of `neutrace.syntax` splits its input here: on ``\\n`` only (a
carriage return before it is dropped), not on the other breaks Python's ``str.splitlines`` knows
(form feed, ``\\x1c``..``\\x1e``, NEL, U+2028/U+2029), which are ordinary characters inside a
comment or a port name and never end a line for the tools that wrote the dump. A line longer
than `neutrace.limits.Limits.max_line_chars` is refused with a `SyntaxParseError`.

Files are read as bytes (`read_file`) and decoded here (`decode`): strictly, so that a byte that
is not UTF-8 is an error naming its line and column, or in lossy mode (U+FFFD).
"""

from __future__ import annotations

from pathlib import Path

from neutrace.errors import InputError, SyntaxParseError
from neutrace.limits import fix_hint, limits


def lines(text: str, source: str) -> list[str]:
    """The lines of ``text`` (without their ``\\n`` or ``\\r\\n``), each within the limit."""
    out = text.split("\n")
    if out and out[-1] == "":
        out.pop()
    if "\r" in text:
        out = [ln[:-1] if ln.endswith("\r") else ln for ln in out]
    cap = limits().max_line_chars
    if len(text) > cap:
        for n, ln in enumerate(out, 1):
            if len(ln) > cap:
                raise SyntaxParseError(source, f"line {n}", f"the line is {len(ln)} characters "
                                       f"long, past the limit of {cap}",
                                       fix_hint("max_line_chars"), line=n)
    return out


def cut(text: str, limit: int = 80) -> str:
    """``text`` for a message, cut to ``limit`` characters."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def decode(data: bytes, source: str, *, lossy: bool = False) -> str:
    """``data`` as UTF-8 text. Bytes that are not UTF-8 are a `SyntaxParseError` naming the
    line, the column and the byte; with ``lossy`` they become U+FFFD instead (a dump's comments,
    notes and descriptions survive that; an address or a name with one no longer parses, and
    says so)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if lossy:
            return data.decode("utf-8", "replace")
        start = exc.start
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        raise SyntaxParseError(
            source, f"line {line}", f"byte {data[start]:#04x} (column {column}) is not UTF-8",
            "save the file as UTF-8, or read it in lossy mode (docs/reliability.md)",
            line=line, column=column) from None


def read_file(path: str | Path, *, lossy: bool = False) -> str:
    """The text of the dump file at ``path``, within `Limits.max_file_bytes`; an unreadable
    path (missing, a NUL in it, a name past the file system's length, a folder) is an
    `InputError` naming it."""
    p = Path(path)
    try:
        if p.stat().st_size > limits().max_file_bytes:
            raise InputError(str(p), "", f"the file is larger than the limit of "
                             f"{limits().max_file_bytes} bytes", fix_hint("max_file_bytes"))
        with p.open("rb") as f:
            data = f.read(limits().max_file_bytes + 1)
    except ValueError:
        raise InputError(cut(repr(str(p))), "", "the path has a NUL character",
                         "check the path") from None
    except OSError as exc:
        raise InputError(cut(str(p)), "", f"cannot read the file: "
                         f"{exc.strerror or exc.__class__.__name__}", "check the path") from None
    if len(data) > limits().max_file_bytes:
        raise InputError(str(p), "", f"the file is larger than the limit of "
                         f"{limits().max_file_bytes} bytes", fix_hint("max_file_bytes"))
    return decode(data, str(p), lossy=lossy)


class _JsonRefused(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def _json_int(digits: str) -> int:
    if len(digits.lstrip("-")) > 40:
        raise _JsonRefused(f"an integer of {len(digits)} digits")
    return int(digits)


def _json_constant(name: str) -> object:
    raise _JsonRefused(name)


def load_json(text: str, source: str, what: str) -> object:
    """``text`` as JSON, for a dump's parser: a syntax error, NaN/Infinity, an integer of more
    than 40 digits or nesting past Python's recursion limit is a `SyntaxParseError` naming the
    line and the command whose output it should be (``what``)."""
    import json

    try:
        return json.loads(text, parse_int=_json_int, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        raise SyntaxParseError(source, f"line {exc.lineno}", f"not valid JSON ({exc.msg})",
                               f"give the output of `{what}`", exc.lineno, exc.colno) from None
    except _JsonRefused as exc:
        raise SyntaxParseError(source, "", f"{exc.what} is not a value `{what}` prints",
                               f"give the unedited output of `{what}`") from None
    except RecursionError:
        raise SyntaxParseError(source, "", "the JSON is nested too deeply",
                               f"give the unedited output of `{what}`") from None


def as_int(value: object, source: str, where: str, maximum: int = (1 << 64) - 1,
           fix: str = "give the unedited output of the command",
           line: int | None = None) -> int:
    """A number of a dump (a JSON integer, or ASCII decimal text), ``0..maximum``; anything
    else (a bool, a float, Unicode digits, a sign, more than 40 digits) is a
    `SyntaxParseError` at ``where``."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 40:
        number = int(value)
    if number is None or not 0 <= number <= maximum:
        shown = cut(repr(value), 40) if isinstance(value, str | int) else type(value).__name__
        raise SyntaxParseError(source, where, f"expected a number in 0..{maximum}, got {shown}",
                               fix, line=line)
    return number
