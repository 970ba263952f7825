"""Reading a topology file's text (YAML or JSON) into plain data plus a line for every path.

YAML is read with YAML 1.2-like scalar rules: only ``true``/``false`` are booleans and only
decimal/hex/octal numbers are integers, so ``on``, ``yes``, MAC addresses such as
``10:20:30:40:50:60`` (a base-60 integer in YAML 1.1) and IP addresses stay strings.
Duplicate keys in one mapping are an error (YAML would silently keep the last one; JSON too);
merge keys (``<<: *anchor``) work, the mapping's own keys overriding the merged ones.

The text is untrusted: it is read with a safe loader whose bounds are `neutrace.limits`'s
(the file's size, nesting depth, the number of aliases and of the nodes they expand to, so that
a billion-laughs document is refused in milliseconds); explicit tags are refused on lists and
mappings and, on scalars, allowed only for ``!!str``/``!!int``/``!!float``/``!!bool``/``!!null``
with a value of that kind; integers are limited to 40 digits, NaN and infinities refused (YAML
and JSON alike). Every problem is a `TopologyError` naming the file, line and column.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from neutrace.errors import TopologyError
from neutrace.limits import fix_hint, limits

Path_ = tuple[str | int, ...]
Lines = dict[Path_, int]


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema booleans, integers and floats."""


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag
        not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+|0o[0-7]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+.0123456789"),
)


_TAG = "tag:yaml.org,2002:"
_INT_RE = re.compile(r"[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+|0o[0-7]+")
_FLOAT_RE = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][-+]?[0-9]+)?")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False,
          "FALSE": False}
_MAX_DIGITS = 40


class _Refused(Exception):
    """A scalar or a tag the topology file may not hold: (problem, fix, the node)."""

    def __init__(self, problem: str, fix: str, node: Node) -> None:
        super().__init__(problem)
        self.problem, self.fix, self.node = problem, fix, node


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _scalar(node: ScalarNode) -> Any:
    """The value of a scalar by its (resolved or explicit) tag: str, int, float, bool, None."""
    tag, text = node.tag, node.value
    if tag == _TAG + "str":
        return text
    if tag == _TAG + "int":
        if not _INT_RE.fullmatch(text):
            raise _Refused(f"{_short(text)} is not an integer (!!int)",
                           "write a decimal, 0x or 0o number, or drop the tag", node)
        digits = text.lstrip("+-")
        if len(digits) > _MAX_DIGITS:
            raise _Refused(f"the integer {_short(text)} has more than {_MAX_DIGITS} digits",
                           "write a number of a sensible size", node)
        if digits.startswith("0o"):
            return int(text.replace("0o", "", 1), 8)
        return int(text, 16) if digits.startswith("0x") else int(text, 10)
    if tag == _TAG + "float":
        if not _FLOAT_RE.fullmatch(text) or len(text) > _MAX_DIGITS:
            raise _Refused(f"{_short(text)} is not a finite number (!!float)",
                           "write a number such as 1.5 (no NaN or infinities), or drop the tag",
                           node)
        value = float(text)
        if not math.isfinite(value):
            raise _Refused(f"{_short(text)} is too large", "write a smaller number", node)
        return value
    if tag == _TAG + "bool":
        if text not in _BOOLS:
            raise _Refused(f"{_short(text)} is not a boolean (!!bool)", "write true or false",
                           node)
        return _BOOLS[text]
    if tag == _TAG + "null":
        if text not in _NULLS:
            raise _Refused(f"{_short(text)} is not null (!!null)", "write null or nothing",
                           node)
        return None
    raise _Refused(f"the tag {tag.replace(_TAG, '!!')} is not allowed in a topology file",
                   "remove the tag: write the value plain or quoted", node)


class _Composer(_Loader):
    """The loader that composes with bounds: nesting depth and the number of aliases."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0
        self.aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        """Compose one node, counting depth and aliases against `neutrace.limits`."""
        if self.check_event(AliasEvent):
            self.aliases += 1
            if self.aliases > limits().max_yaml_aliases:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _Limit(f"more than {limits().max_yaml_aliases} aliases (*name)",
                             "max_yaml_aliases", mark.line + 1, mark.column + 1)
        self.depth += 1
        try:
            if self.depth > limits().max_yaml_depth:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _Limit(f"nested deeper than {limits().max_yaml_depth} levels",
                             "max_yaml_depth", mark.line + 1, mark.column + 1)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Limit(Exception):
    """A bound of `neutrace.limits` reached: (problem, the limit's name, line, column)."""

    def __init__(self, problem: str, name: str, line: int | None, column: int | None) -> None:
        super().__init__(problem)
        self.problem, self.name, self.line, self.column = problem, name, line, column


def read(path: str | Path) -> str:
    """The text of the topology file at ``path`` (UTF-8, within `Limits.max_topology_bytes`);
    a path that cannot be read (missing, a NUL in it, too long a name, a folder) is a
    `TopologyError` naming it."""
    p = Path(path)
    cap = limits().max_topology_bytes
    try:
        with p.open("rb") as f:
            data = f.read(cap + 1)
    except ValueError:
        raise TopologyError(repr(str(p))[:200], "", "the path has a NUL character",
                            "check the path") from None
    except OSError as exc:
        raise TopologyError(str(p)[:200], "", f"cannot read the file: "
                            f"{exc.strerror or exc.__class__.__name__}", "check the path") from None
    if len(data) > cap:
        raise TopologyError(str(p), "", f"the file is larger than the limit of {cap} bytes",
                            fix_hint("max_topology_bytes"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise TopologyError(str(p), "", f"byte {data[exc.start]:#04x} is not UTF-8",
                            "save the file as UTF-8", line, column) from None


def parse(text: str, source: str) -> tuple[Any, Lines]:
    """The data of ``text`` (YAML, or JSON which YAML reads too) and the 1-based line of every path.

    Raises TopologyError for a syntax error (with its line and column), a duplicate key, a
    refused tag or value, or input past a limit of `neutrace.limits`.
    """
    if len(text) > limits().max_topology_bytes:
        raise TopologyError(source, "", f"the text is larger than the limit of "
                            f"{limits().max_topology_bytes} characters",
                            fix_hint("max_topology_bytes"))
    stripped = text.lstrip()
    if source.endswith(".json") or stripped.startswith("{"):
        return _parse_json(text, source)
    return _parse_yaml(text, source)


def _parse_json(text: str, source: str) -> tuple[Any, Lines]:
    """JSON, strictly: no duplicate keys, NaN, infinities or huge integers."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise _Duplicate(key)
            out[key] = value
        return out

    def constant(name: str) -> Any:
        raise _Constant(name)

    def integer(digits: str) -> int:
        if len(digits.lstrip("-")) > _MAX_DIGITS:
            raise _Constant(digits)
        return int(digits)

    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=constant,
                          parse_int=integer)
    except json.JSONDecodeError as exc:
        raise TopologyError(
            source, "", f"JSON syntax error: {exc.msg} (column {exc.colno})",
            "fix the JSON syntax at that line", exc.lineno, exc.colno,
        ) from None
    except RecursionError:
        raise TopologyError(source, "", "nested too deeply", fix_hint("max_yaml_depth")) from None
    except _Duplicate as exc:
        line, column = _find(text, json.dumps(exc.key) + r"\s*:", second=True)
        raise TopologyError(source, "", f"duplicate key {exc.key!r}",
                            "write each key once in a mapping", line, column) from None
    except _Constant as exc:
        line, column = _find(text, re.escape(exc.name) + r"(?![0-9])")
        what = "an integer of more than 40 digits" if exc.name[-1:].isdigit() else exc.name
        raise TopologyError(source, "", f"{what} is not allowed in a topology file",
                            "write a finite number of a sensible size", line, column) from None
    try:
        # tabs are JSON whitespace but not YAML indentation; lines and columns stay put
        _, lines = _parse_yaml(text.replace("\t", " "), source)
    except TopologyError as exc:
        if exc.problem.startswith(("nested deeper", "more than")):
            raise
        lines = {}  # valid JSON that YAML cannot read: no line numbers
    if _depth(data) > limits().max_yaml_depth:
        raise TopologyError(source, "", f"nested deeper than {limits().max_yaml_depth} levels",
                            fix_hint("max_yaml_depth"))
    return data, lines


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _Constant(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _find(text: str, pattern: str, second: bool = False) -> tuple[int | None, int | None]:
    """The line and column of the first (or second) match of ``pattern`` in ``text``."""
    matches = re.finditer(pattern, text)
    m = next(matches, None)
    if second:
        m = next(matches, m)
    if m is None:
        return None, None
    start = m.start()
    return text.count("\n", 0, start) + 1, start - (text.rfind("\n", 0, start) + 1) + 1


def _depth(data: Any) -> int:
    """The nesting depth of plain data (iteratively: no recursion limit)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, d + 1) for v in item)
    return deepest


def _parse_yaml(text: str, source: str) -> tuple[Any, Lines]:
    try:
        loader = _Composer(text)
    except yaml.reader.ReaderError as exc:
        line, column = _position(text, exc.position)
        raise TopologyError(source, "", f"the character {exc.character!r} is not allowed in YAML "
                            "(a control or non-printable character)",
                            "remove it (or quote it with an escape such as \\x01)",
                            line, column) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: Lines = {}
        budget = [limits().max_yaml_alias_nodes]
        data = _convert(loader, node, (), lines, source, 1, set(), budget)
    except _Limit as exc:
        raise TopologyError(source, "", exc.problem, fix_hint(exc.name), exc.line,
                            exc.column) from None
    except _Refused as exc:
        mark = exc.node.start_mark
        raise TopologyError(source, "", exc.problem, exc.fix, mark.line + 1,
                            mark.column + 1) from None
    except yaml.reader.ReaderError as exc:
        line, column = _position(text, exc.position)
        raise TopologyError(source, "", f"the character {exc.character!r} is not allowed in YAML",
                            "remove it", line, column) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or str(exc)
        if exc.context:
            problem = f"{exc.context}, {problem}"
        raise TopologyError(
            source, "", f"YAML syntax error: {problem}",
            "fix the YAML syntax at that line (indentation, a missing ':' or a quote)",
            mark.line + 1 if mark is not None else None,
            mark.column + 1 if mark is not None else None,
        ) from None
    except yaml.YAMLError as exc:
        raise TopologyError(source, "", f"YAML error: {exc}", "fix the YAML syntax") from None
    finally:
        loader.dispose()
    return data, lines


def _position(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _convert(loader: _Loader, node: Node, path: Path_, lines: Lines, source: str, depth: int,
             seen: set[int], budget: list[int]) -> Any:
    """The data of ``node``; aliases expand within ``budget`` nodes, nesting within the depth
    limit (which a self-referencing anchor reaches)."""
    if depth > limits().max_yaml_depth:
        raise _Limit(f"nested deeper than {limits().max_yaml_depth} levels (or an anchor that "
                     "contains itself)", "max_yaml_depth", node.start_mark.line + 1,
                     node.start_mark.column + 1)
    if id(node) in seen:  # reached again through an alias or a merge key
        budget[0] -= 1
        if budget[0] < 0:
            raise _Limit(f"aliases expand to more than {limits().max_yaml_alias_nodes} nodes",
                         "max_yaml_alias_nodes", node.start_mark.line + 1,
                         node.start_mark.column + 1)
    else:
        seen.add(id(node))
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        if node.tag != _TAG + "map":
            raise _Refused(f"the tag {node.tag.replace(_TAG, '!!')} is not allowed on a mapping",
                           "remove the tag", node)
        written: set[Any] = set()  # keys written here (merged ones, '<<: *x', may be overridden)
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                if not isinstance(value_node, MappingNode | SequenceNode):
                    raise _Refused("a merge key (<<) takes a mapping or a list of mappings",
                                   "write <<: *anchor of a mapping", key_node)
                continue
            if not isinstance(key_node, ScalarNode):
                raise TopologyError(
                    source, where(path), "a mapping key must be a plain value",
                    "write keys as plain names", key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
            key = _scalar(key_node)
            if key in written:
                raise TopologyError(
                    source, where(path), f"duplicate key {key!r}",
                    "write each key once in a mapping", key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
            written.add(key)
        loader.flatten_mapping(node)  # merged pairs first, then the written ones
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise _Refused("a mapping key must be a plain value", "write keys as plain names",
                               key_node)
            key = _scalar(key_node)
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _convert(loader, value_node, (*path, key), lines, source, depth + 1, seen,
                                budget)
        return out
    if isinstance(node, SequenceNode):
        if node.tag != _TAG + "seq":
            raise _Refused(f"the tag {node.tag.replace(_TAG, '!!')} is not allowed on a list",
                           "remove the tag", node)
        return [
            _convert(loader, item, (*path, index), lines, source, depth + 1, seen, budget)
            for index, item in enumerate(node.value)
        ]
    assert isinstance(node, ScalarNode)
    return _scalar(node)


def where(path: Path_) -> str:
    """``("networks", 1, "provider")`` -> ``networks[1].provider``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def line_of(lines: Lines, path: Path_) -> int | None:
    """The line of ``path`` or of its nearest ancestor that has one."""
    for cut in range(len(path), -1, -1):
        line = lines.get(path[:cut])
        if line is not None:
            return line
    return None
