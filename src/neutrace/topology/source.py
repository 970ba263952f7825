"""Reading a topology file's text (YAML or JSON) into plain data plus a line for every path.

YAML is read with YAML 1.2-like scalar rules: only ``true``/``false`` are booleans and only
decimal/hex/octal numbers are integers, so ``on``, ``yes``, MAC addresses such as
``10:20:30:40:50:60`` (a base-60 integer in YAML 1.1) and IP addresses stay strings.
Duplicate keys in one mapping are an error (YAML would silently keep the last one); merge keys
(``<<: *anchor``) work, the mapping's own keys overriding the merged ones.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from neutrace.errors import TopologyError

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


def _construct_int(loader: yaml.SafeLoader, node: Node) -> int:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 0) if text.startswith("0x") else int(text, 10)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def parse(text: str, source: str) -> tuple[Any, Lines]:
    """The data of ``text`` (YAML, or JSON which YAML reads too) and the 1-based line of every path.

    Raises TopologyError for a syntax error (with its line) or a duplicate key.
    """
    stripped = text.lstrip()
    if source.endswith(".json") or stripped.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TopologyError(
                source, "", f"JSON syntax error: {exc.msg} (column {exc.colno})",
                "fix the JSON syntax at that line", exc.lineno,
            ) from None
        try:
            # tabs are JSON whitespace but not YAML indentation; lines and columns stay put
            _, lines = _parse_yaml(text.replace("\t", " "), source)
        except TopologyError:
            lines = {}  # valid JSON that YAML cannot read (tabs...): no line numbers
        return data, lines
    return _parse_yaml(text, source)


def _parse_yaml(text: str, source: str) -> tuple[Any, Lines]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: Lines = {}
        data = _convert(loader, node, (), lines, source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or str(exc)
        if exc.context:
            problem = f"{exc.context}, {problem}"
        raise TopologyError(
            source, "", f"YAML syntax error: {problem}",
            "fix the YAML syntax at that line (indentation, a missing ':' or a quote)",
            mark.line + 1 if mark is not None else None,
        ) from None
    except yaml.YAMLError as exc:
        raise TopologyError(source, "", f"YAML error: {exc}", "fix the YAML syntax") from None
    finally:
        loader.dispose()
    return data, lines


def _convert(loader: _Loader, node: Node, path: Path_, lines: Lines, source: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        written: set[Any] = set()  # keys written here (merged ones, '<<: *x', may be overridden)
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                raise TopologyError(
                    source, where(path), "a mapping key must be a plain value",
                    "write keys as plain names", key_node.start_mark.line + 1,
                )
            if key in written:
                raise TopologyError(
                    source, where(path), f"duplicate key {key!r}",
                    "write each key once in a mapping", key_node.start_mark.line + 1,
                )
            written.add(key)
        loader.flatten_mapping(node)  # merged pairs first, then the written ones
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _convert(loader, value_node, (*path, key), lines, source)
        return out
    if isinstance(node, SequenceNode):
        return [
            _convert(loader, item, (*path, index), lines, source)
            for index, item in enumerate(node.value)
        ]
    assert isinstance(node, ScalarNode)
    return loader.construct_object(node, deep=True)


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
