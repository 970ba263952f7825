"""Resource limits on untrusted input (layer 0): how big a file, a line, a YAML document may be.

neutrace reads what operators paste and what sosreports hold; these bounds keep a hostile or
broken file from taking the machine's memory or minutes of CPU. Every parser and loader that
reads such input checks the bound it needs and refuses past it with a typed error naming the
limit (and this module) as the fix. The defaults are far above any real cloud's files
(docs/reliability.md); change them for one process with `set_limits` or the `limited` context
manager, or from the environment: ``NEUTRACE_LIMIT_<FIELD>`` (``NEUTRACE_LIMIT_MAX_LINE_CHARS=
4000000``) is read when neutrace is imported.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds: file sizes in bytes, a line's length in characters, YAML's nesting depth,
    alias (``*name``) count and the number of nodes aliases and merge keys may expand to."""

    max_file_bytes: int = 256 << 20  # one dump file (a sosreport's dump-flows of a large host)
    max_topology_bytes: int = 32 << 20
    max_line_chars: int = 1 << 20
    max_yaml_depth: int = 100
    max_yaml_aliases: int = 10_000
    max_yaml_alias_nodes: int = 100_000


def _from_environment(base: Limits) -> Limits:
    changes: dict[str, int] = {}
    for f in dataclasses.fields(Limits):
        raw = os.environ.get(f"NEUTRACE_LIMIT_{f.name.upper()}")
        if raw is not None and raw.strip().isascii() and raw.strip().isdigit():
            changes[f.name] = int(raw.strip())
    return dataclasses.replace(base, **changes) if changes else base


_current = [_from_environment(Limits())]


def limits() -> Limits:
    """The limits in force."""
    return _current[0]


def set_limits(new: Limits) -> Limits:
    """Put ``new`` in force; returns the limits it replaces."""
    old, _current[0] = _current[0], new
    return old


@contextmanager
def limited(**changes: int) -> Iterator[Limits]:
    """``with limited(max_line_chars=100): ...``: other limits for the block."""
    old = set_limits(dataclasses.replace(limits(), **changes))
    try:
        yield limits()
    finally:
        set_limits(old)


def fix_hint(name: str) -> str:
    """The fix part of a message for input past the limit ``name``."""
    return (f"if the input is genuine, raise the limit: NEUTRACE_LIMIT_{name.upper()}=N in the "
            f"environment (now {getattr(limits(), name)}), see docs/reliability.md")
