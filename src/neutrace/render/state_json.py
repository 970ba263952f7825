"""`HostState` / `CloudState` <-> JSON (layer 3).

The JSON is the dataclasses themselves: an object per dataclass with every field under its own
name, tuples as arrays (pairs such as ``match``, ``options`` or ``sysctls`` as 2-element arrays),
``None`` as ``null``. ``from_json(to_json(x)) == x`` for every state. Documented shape (abridged)::

    {"name": "test-cmpt-02", "management_ip": "...", "tunnel_ip": "...",
     "ovs_bridges": [{"name": "br-int", "ports": [{"name": "qvo...", "ofport": 3, "type": "",
                      "tag": 2, "trunks": [], "options": [], "external_ids": [["iface-id", "..."]],
                      "mac": null}], "flows": [{"table": 0, "priority": 10,
                      "match": [["arp", ""], ["in_port", "3"]], "actions": "resubmit(,24)",
                      "cookie": 123, "idle_timeout": 0, "hard_timeout": 0}], ...}],
     "namespaces": [{"name": "", "kind": "host", "interfaces": [...], "routes": [...],
                     "rules": [], "neighbours": [], "iptables": "*filter\\n...", ...}]}
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, TypeVar

from neutrace.dataplane import CloudState, HostState

_T = TypeVar("_T")


def to_obj(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_obj(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_obj(v) for v in value]
    return value


def _from(tp: Any, data: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if data is None:
            return None
        return _from(members[0], data)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from(args[0], v) for v in data)
        return tuple(_from(a, v) for a, v in zip(args, data, strict=True))
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        kwargs = {f.name: _from(hints[f.name], data[f.name])
                  for f in dataclasses.fields(tp) if f.name in data}
        return tp(**kwargs)
    return data


def from_obj(cls: type[_T], data: Any) -> _T:
    result: _T = _from(cls, data)
    return result


def to_json(state: HostState | CloudState, indent: int | None = 2) -> str:
    return json.dumps(to_obj(state), indent=indent) + "\n"


def host_from_json(text: str) -> HostState:
    return from_obj(HostState, json.loads(text))


def cloud_from_json(text: str) -> CloudState:
    return from_obj(CloudState, json.loads(text))


def from_json(text: str) -> HostState | CloudState:
    """A HostState or a CloudState (told apart by the ``hosts`` key)."""
    data = json.loads(text)
    if isinstance(data, dict) and "hosts" in data:
        return from_obj(CloudState, data)
    return from_obj(HostState, data)
