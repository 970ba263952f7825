"""The topology file and its loader: a user's description of a cloud -> a complete ``model.Cloud``.

``load(path)`` / ``loads(text)`` read YAML (or JSON, the same schema), ``from_dict(data)`` takes
the same data as Python objects (the builder uses it); ``dump(cloud)`` writes a Cloud back as that
data with every generated value pinned. Three stages, all before anything is
produced, so a bad file yields one ``TopologyError`` naming the file, line, path and fix:

1. ``source``: text -> plain data and the line of every path (syntax errors, duplicate keys);
2. ``schema``: shape and types (unknown keys with the allowed ones, missing keys, wrong types);
3. ``resolve``: meaning (addresses, references, ranges, hosts' mappings and tunnels) and every
   default and generated value Neutron would fill in.

The schema is documented in docs/topology.md.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from neutrace.bulk import paused_gc
from neutrace.errors import TopologyError
from neutrace.model import Cloud
from neutrace.topology import schema
from neutrace.topology.dump import dump
from neutrace.topology.resolve import resolve
from neutrace.topology.source import Lines, Path_, line_of, parse, read, where

__all__ = ["load", "loads", "from_dict", "dump", "json_schema"]


def load(path: str | Path) -> Cloud:
    """Read the topology file at ``path`` (YAML or JSON)."""
    p = Path(path)
    return loads(read(p), source=str(p))


def loads(text: str, source: str = "<string>") -> Cloud:
    """Read a topology from YAML or JSON text; ``source`` names it in error messages."""
    with paused_gc():
        data, lines = parse(text, source)
        return from_dict(data, source=source, lines=lines)


def from_dict(data: Any, source: str = "<dict>", lines: Lines | None = None) -> Cloud:
    """Validate plain data (as read from a topology file) and build the Cloud."""
    lines = lines or {}
    if not isinstance(data, dict):
        raise TopologyError(source, "", "the topology must be a mapping (name:, hosts:, ...)",
                            "start the file with 'name: <cloud name>' and 'hosts:'",
                            line_of(lines, ()))
    # top-level keys starting with "x-" are the user's own (anchors for '<<: *name'): ignored
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    with paused_gc():
        try:
            cloud = schema.CloudIn.model_validate(data)
        except ValidationError as exc:
            raise _schema_error(exc, data, source, lines) from None
        return resolve(cloud, source, lines)


def json_schema() -> dict[str, Any]:
    """The topology file's JSON Schema (for editors; docs/topology.schema.json holds a copy)."""
    schema_dict = schema.CloudIn.model_json_schema()
    schema_dict["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema_dict["title"] = "neutrace topology"
    schema_dict["patternProperties"] = {"^x-": {}}
    return schema_dict


def _schema_error(exc: ValidationError, data: Any, source: str, lines: Lines) -> TopologyError:
    """The first (by line) schema problem as a TopologyError."""
    best: tuple[float, int, int, TopologyError] | None = None
    for order, err in enumerate(exc.errors(include_url=False)):
        error = _one_error(err, data, source, lines)
        # on one line, an unknown key first: it is usually the misspelling of the missing one
        line = float(error.line) if error.line is not None else float("inf")
        rank = (line, 0 if err["type"] == "extra_forbidden" else 1, order)
        if best is None or rank < best[:3]:
            best = (*rank, error)
    assert best is not None
    return best[3]


def _one_error(err: Any, data: Any, source: str, lines: Lines) -> TopologyError:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind in ("extra_forbidden", "missing") and loc:
        key = loc[-1]
        parent, model = _walk(loc[:-1], data)
        if kind == "extra_forbidden" and model is not None and \
                (model.__name__, str(key)) in schema.NOT_MODELLED:
            feature, instead = schema.NOT_MODELLED[(model.__name__, str(key))]
            return TopologyError(source, where(parent), f"{feature} is not modelled yet",
                                 f"remove {key!r}: {instead} (docs/topology.md lists what is "
                                 "modelled)", line_of(lines, (*parent, key)))
        if kind == "extra_forbidden":
            allowed = list(model.model_fields) if model else []
            close = difflib.get_close_matches(str(key), allowed, n=1)
            fix = f"did you mean {close[0]!r}? " if close else ""
            fix += "allowed keys here: " + ", ".join(allowed)
            return TopologyError(source, where(parent), f"unknown key {key!r}", fix,
                                 line_of(lines, (*parent, key)))
        return TopologyError(source, where(parent), f"missing required key {key!r}",
                             f"add {key}: ...", line_of(lines, parent))
    path, _ = _walk(loc, data)
    msg = str(err["msg"])
    value = err.get("input")
    problem = msg[0].lower() + msg[1:] if msg else "invalid value"
    if not isinstance(value, dict | list):
        problem += f", got {value!r}"
    fix = "see docs/topology.md for this key"
    if kind == "literal_error":
        fix = "use " + msg.removeprefix("Input should be ")
    elif kind == "string_type" and isinstance(value, int | float | bool):
        fix = f"quote it: '{value}'"
    return TopologyError(source, where(path), problem, fix, line_of(lines, path))


def _walk(loc: tuple[Any, ...], data: Any) -> tuple[Path_, type[BaseModel] | None]:
    """The part of pydantic's ``loc`` that exists in ``data`` (dropping union tags such as
    ``'str'``) and the schema model of the value at that path (None if it is not a model)."""
    path: list[str | int] = []
    node = data
    model: type[BaseModel] | None = schema.CloudIn
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
            model = _field_model(model, str(part))
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        else:
            break
    return tuple(path), model


def _field_model(model: type[BaseModel] | None, field: str) -> type[BaseModel] | None:
    """The schema model inside ``model.field`` (through list[...] and Optional)."""
    if model is None or field not in model.model_fields:
        return None
    annotation = model.model_fields[field].annotation
    stack = [annotation]
    while stack:
        item = stack.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
        stack.extend(getattr(item, "__args__", ()))
    return None
