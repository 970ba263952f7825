"""``ovs-appctl dpif/show`` → `DpifShow` (datapath port number → bridge and port name)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from neutrace.errors import SyntaxParseError
from neutrace.syntax.text import cut
from neutrace.syntax.text import lines as text_lines


@dataclass(frozen=True, slots=True)
class DpifPort:
    bridge: str
    name: str
    ofport: int
    odp_port: int | None  # None for patch ports
    type: str
    remote_ip: str | None = None  # a tunnel port's (userspace tunnels share one odp port)


@dataclass(frozen=True, slots=True)
class DpifShow:
    ports: tuple[DpifPort, ...]

    def by_odp(self) -> dict[int, DpifPort]:
        return {p.odp_port: p for p in self.ports if p.odp_port is not None}


_DPIF_PORT_RE = re.compile(r"^ {4}(\S+) ([0-9]{1,10})/([0-9]{1,10}|none): \((.*)\) *$")
_DPIF_BRIDGE_RE = re.compile(r"^ {2}(\S+): *$")


def parse_dpif_show(text: str, source: str = "<ovs-appctl dpif/show>") -> DpifShow:
    bridge = ""
    ports: list[DpifPort] = []
    for lineno, line in enumerate(text_lines(text, source), 1):
        if not line.strip() or not line.startswith(" "):
            continue
        b = _DPIF_BRIDGE_RE.match(line)
        if b:
            bridge = b.group(1)
            continue
        m = _DPIF_PORT_RE.match(line)
        if m:
            kind = m.group(4).split(":")[0].strip()
            odp = None if m.group(3) == "none" else int(m.group(3))
            remote = re.search(r"\bremote_ip=([0-9a-fA-F.:]+)", m.group(4))
            ports.append(DpifPort(bridge, m.group(1), int(m.group(2)), odp, kind,
                                  remote.group(1) if remote else None))
            continue
        if line.startswith("    ") and ":" in line:
            continue  # per-port statistics or options of newer versions
        raise SyntaxParseError(source, f"line {lineno}", f"unexpected line {cut(line.strip())!r}",
                               "give the output of `ovs-appctl dpif/show`", lineno)
    return DpifShow(tuple(ports))
