"""Load `neutrace.dataplane.OvsBridge`s into a real Open vSwitch and trace packets there (layer 3).

- `load_bridges`: creates the bridges in an `OvsSandbox` with ``datapath_type=dummy``, their
  ``fail_mode`` and ``protocols`` (OpenFlow14 is added: ``--bundle`` needs it), their ports
  (``ofport_request``, Interface ``type``, Port ``tag``/``trunks``, patch ``peer`` and tunnel
  options, Interface ``external_ids``) in one ``ovs-vsctl`` transaction, then their flows with
  ``ovs-ofctl --bundle add-flows BRIDGE FILE`` (atomic: all or nothing).
- `load_flows`: swaps a bridge's flows (``--bundle replace-flows``), for tests that reuse bridges.
- `UnixctlClient`: a persistent JSON-RPC connection to ``ovs-vswitchd``'s unixctl socket (what
  ``ovs-appctl`` does once per call), for fast repeated ``ofproto/trace``.
- `OvsTracer`: runs ``ofproto/trace`` over that connection and returns a `RealTrace`: the parsed
  trace plus, from its ``Datapath actions``, which OVS port got which copy with which headers.

Everything runs as argument lists against the sandbox's own sockets, never through a shell.
"""

from __future__ import annotations

import json
import re
import socket
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from neutrace.backends.ovs_sandbox import OvsSandbox
from neutrace.dataplane import Flow, OvsBridge
from neutrace.errors import BackendError
from neutrace.packet import Packet
from neutrace.syntax.microflow import Microflow, format_microflow, parse_microflow
from neutrace.syntax.ofctl import format_flow
from neutrace.syntax.ovsdump import (
    OFPP_LOCAL,
    DpifPort,
    OfprotoTrace,
    datapath_outputs,
    parse_datapath_actions,
    parse_dpif_show,
    parse_ofproto_trace,
)

BUNDLE_PROTOCOL = "OpenFlow14"


def _protocols(bridge: OvsBridge) -> str:
    protos = list(bridge.protocols)
    if BUNDLE_PROTOCOL not in protos:
        protos.append(BUNDLE_PROTOCOL)
    return ",".join(protos)


def vsctl_argv(bridges: Sequence[OvsBridge], *, replace: bool = True,
               datapath_type: str = "dummy",
               hwaddrs: Mapping[str, str] | None = None) -> list[str]:
    """The ``ovs-vsctl`` arguments (one transaction) that create ``bridges`` and their ports.

    ``datapath_type`` is ``dummy`` in a sandbox, ``netdev`` in the real backend (no kernel
    module); ``hwaddrs`` gives bridges' LOCAL port MAC (``other_config:hwaddr``). Ports get their
    ``other_config`` (the agent's local VLAN mapping) and internal ports their ``mac``."""
    argv: list[str] = []
    hwaddrs = hwaddrs or {}

    def cmd(*words: str) -> None:
        if argv:
            argv.append("--")
        argv.extend(words)

    for b in bridges:
        if replace:
            cmd("--if-exists", "del-br", b.name)
    for b in bridges:
        cmd("add-br", b.name)
        bridge_set = ["set", "Bridge", b.name, f"datapath_type={datapath_type}",
                      f"fail_mode={b.fail_mode}", f"protocols={_protocols(b)}"]
        if b.name in hwaddrs:
            bridge_set.append(f"other_config:hwaddr={json.dumps(hwaddrs[b.name])}")
        cmd(*bridge_set)
        for k, v in b.external_ids:
            cmd("br-set-external-id", b.name, k, v)
        for p in b.ports:
            if p.name == b.name or p.ofport == OFPP_LOCAL:
                continue  # the bridge's LOCAL port exists already
            cmd("add-port", b.name, p.name)
            iface = ["set", "Interface", p.name, f"ofport_request={p.ofport}"]
            if p.type:
                iface.append(f"type={p.type}")
            iface.extend(f"options:{k}={v}" for k, v in p.options)
            iface.extend(f"external_ids:{k}={json.dumps(v)}" for k, v in p.external_ids)
            if p.type == "internal" and p.mac:
                iface.append(f"mac={json.dumps(p.mac)}")
            cmd(*iface)
            if p.tag is not None:
                cmd("set", "Port", p.name, f"tag={p.tag}")
            if p.other_config:
                cmd("set", "Port", p.name,
                    *(f"other_config:{k}={json.dumps(v)}" for k, v in p.other_config))
            if p.trunks:
                cmd("set", "Port", p.name, "trunks=" + ",".join(map(str, p.trunks)))
    return argv


def flows_text(flows: Iterable[Flow]) -> str:
    """The ``ovs-ofctl add-flows`` file for ``flows`` (one flow a line)."""
    return "".join(format_flow(f) + "\n" for f in flows)


def load_flows(sandbox: OvsSandbox, bridge: str, flows: Iterable[Flow] | str, *,
               replace: bool = False, bundle: bool | None = None) -> None:
    """Load flows into ``bridge`` with ``ovs-ofctl --bundle add-flows`` (or ``replace-flows``)
    from a file. ``flows`` may be ready-made add-flows text.

    A bundle is OpenFlow 1.4, and some OpenFlow 1.0 flows have no OpenFlow 1.4 encoding (e.g.
    ``strip_vlan`` on a flow that does not match a VLAN tag: OVS's check
    ``OFPBAC_MATCH_INCONSISTENT``) or a different meaning in it (``mod_vlan_vid`` on a flow that
    does not match on the VLAN becomes ``push_vlan,set_field``, which adds a second tag to a
    tagged packet where OpenFlow 1.0 rewrites the tag: see `of10_semantics_needed`). With
    ``bundle=None`` (the default) such files are loaded without ``--bundle``
    (``-O OpenFlow10 add-flows``, after ``del-flows`` for a replace; not atomic);
    ``bundle=True`` never falls back."""
    text = flows if isinstance(flows, str) else flows_text(flows)
    command = "replace-flows" if replace else "add-flows"
    if bundle is None and of10_semantics_needed(text):
        bundle = False
    with tempfile.NamedTemporaryFile("w", suffix=".flows", dir=sandbox.dir, delete=False) as fh:
        fh.write(text)
        path = fh.name
    try:
        if bundle is False:
            _load_of10(sandbox, bridge, path, replace)
            return
        try:
            sandbox.ofctl("--bundle", command, bridge, path)
        except BackendError as exc:
            if bundle or "none of the usable flow formats" not in str(exc):
                raise
            _load_of10(sandbox, bridge, path, replace)
    finally:
        Path(path).unlink(missing_ok=True)


_VLAN_MOD = re.compile(r"(?:^|[,(])(?:mod|set)_vlan_(?:vid|pcp)[:(]")
_VLAN_MATCH = re.compile(r"(?:^|[,\s])(?:dl_vlan|vlan_tci|vlan_vid|dl_vlan_pcp|vlan_pcp)=")


def of10_semantics_needed(text: str) -> bool:
    """True if a flow of ``text`` rewrites the VLAN with an OpenFlow 1.0 action
    (``mod_vlan_vid``/``mod_vlan_pcp``) without matching on the VLAN: OpenFlow 1.1+ cannot say
    "modify the tag, or push one if there is none", so a bundle would change its meaning."""
    for line in text.splitlines():
        head, sep, actions = line.partition("actions=")
        if sep and _VLAN_MOD.search(actions) and not _VLAN_MATCH.search(head):
            return True
    return False


def _load_of10(sandbox: OvsSandbox, bridge: str, path: str, replace: bool) -> None:
    # ovs-ofctl's replace-flows cannot negotiate NXM+table_id under OpenFlow 1.0: delete, then add
    if replace:
        sandbox.ofctl("del-flows", bridge)
    sandbox.ofctl("-O", "OpenFlow10", "add-flows", bridge, path)


def load_bridges(
    sandbox: OvsSandbox, bridges: Sequence[OvsBridge], *, replace: bool = True
) -> None:
    """Create ``bridges`` (ports, then flows) in ``sandbox``. With ``replace``, bridges of the same
    names are deleted first."""
    if not bridges:
        return
    sandbox.vsctl(*vsctl_argv(bridges, replace=replace))
    for b in bridges:
        if b.flows:
            load_flows(sandbox, b.name, b.flows)


def delete_bridges(sandbox: OvsSandbox, names: Iterable[str]) -> None:
    argv: list[str] = []
    for n in names:
        if argv:
            argv.append("--")
        argv.extend(["--if-exists", "del-br", n])
    if argv:
        sandbox.vsctl(*argv)


# ---------------------------------------------------------------------------------------------


class UnixctlClient:
    """A persistent JSON-RPC connection to an OVS daemon's unixctl socket.

    ``call("ofproto/trace", "br-int", "in_port=1,...")`` returns the reply text; an error reply
    raises `BackendError`."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._sock: socket.socket | None = None
        self._id = 0
        self._buf = b""
        self._decoder = json.JSONDecoder()

    def connect(self) -> UnixctlClient:
        if self._sock is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.path)
            except OSError as exc:
                s.close()
                raise BackendError(f"cannot connect to {self.path}: {exc}") from exc
            self._sock = s
        return self

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> UnixctlClient:
        return self.connect()

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def call(self, method: str, *params: str) -> str:
        sock = self.connect()._sock
        assert sock is not None
        self._id += 1
        msg = json.dumps({"id": self._id, "method": method, "params": list(params)})
        sock.sendall(msg.encode())
        while True:
            reply = self._next_message(sock)
            if reply.get("id") != self._id:
                continue  # a notification or a stale reply
            if reply.get("error") is not None:
                raise BackendError(f"ovs-appctl {method} failed: {str(reply['error']).strip()}")
            result = reply.get("result")
            return result if isinstance(result, str) else json.dumps(result)

    def _next_message(self, sock: socket.socket) -> dict[str, Any]:
        while True:
            text = self._buf.lstrip()
            if text:
                try:
                    obj, end = self._decoder.raw_decode(text.decode())
                except (json.JSONDecodeError, UnicodeDecodeError):
                    pass
                else:
                    self._buf = text.decode()[end:].encode()
                    if isinstance(obj, dict):
                        return obj
                    continue
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise BackendError(f"{self.path}: connection closed by ovs-vswitchd")
            self._buf += chunk


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RealOutput:
    """A copy that left real OVS: bridge, OVS port name, the packet's headers as the datapath
    actions left them, and the trace pass it belongs to (0 = first, 1 = after ct recirculation)."""

    bridge: str
    port: str
    packet: Packet
    pass_index: int = 0


@dataclass(frozen=True, slots=True)
class RealTrace:
    """``ofproto/trace`` of real OVS: the raw text, its parse, and the outputs."""

    text: str
    trace: OfprotoTrace
    outputs: tuple[RealOutput, ...]


class OvsTracer:
    """``ofproto/trace`` on a sandbox over one persistent unixctl connection."""

    def __init__(self, sandbox: OvsSandbox) -> None:
        self.sandbox = sandbox
        self.client = UnixctlClient(sandbox.vswitchd_ctl)
        self._odp: dict[int, DpifPort] | None = None
        self._tunnels: dict[tuple[int | None, str | None], DpifPort] = {}
        self._ofports: dict[tuple[str, str], int] = {}

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> OvsTracer:
        self.client.connect()
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def refresh(self) -> None:
        """Re-read the port map (after bridges or ports changed)."""
        show = parse_dpif_show(self.client.call("dpif/show"))
        self._odp = show.by_odp()
        self._tunnels = {(p.odp_port, p.remote_ip): p for p in show.ports
                         if p.remote_ip is not None}
        self._ofports = {(p.bridge, p.name): p.ofport for p in show.ports}

    def ofport(self, bridge: str, port: str) -> int:
        if (bridge, port) not in self._ofports:
            self.refresh()
        try:
            return self._ofports[(bridge, port)]
        except KeyError:
            raise BackendError(f"bridge {bridge} has no port {port} in the sandbox") from None

    def fdb_flush(self, bridge: str | None = None) -> None:
        self.client.call("fdb/flush", *([bridge] if bridge else []))

    def trace_text(self, bridge: str, microflow: str, *options: str) -> str:
        return self.client.call("ofproto/trace", *options, bridge, microflow)

    def trace(self, bridge: str, in_port: str, packet: Packet,
              fields: tuple[tuple[str, str], ...] = (), *options: str) -> RealTrace:
        """Trace ``packet`` entering ``bridge`` through port ``in_port`` (a name)."""
        flow = format_microflow(Microflow(str(self.ofport(bridge, in_port)), packet, fields))
        return self.parse(self.trace_text(bridge, flow, *options), packet)

    def parse(self, text: str, packet: Packet | None = None) -> RealTrace:
        """Parse trace ``text``; ``packet`` (the traced packet) is the start of the first pass's
        datapath actions (else its ``Flow:`` line is)."""
        if self._odp is None:
            self.refresh()
        assert self._odp is not None
        trace = parse_ofproto_trace(text)
        outputs: list[RealOutput] = []
        for i, p in enumerate(trace.passes):
            if i == 0 and packet is not None:
                start = packet
            else:
                start = parse_microflow(p.flow, source="ofproto/trace Flow:", strict=False).packet
            for odp, pkt in datapath_outputs(parse_datapath_actions(p.datapath_actions), start):
                # userspace tunnel ports share one datapath port: the remote IP tells them apart
                port = self._tunnels.get((odp, pkt.tun_dst)) or self._odp.get(odp)
                if port is None:
                    self.refresh()
                    port = self._odp.get(odp)
                if port is None:
                    raise BackendError(f"datapath port {odp} is not in dpif/show")
                outputs.append(RealOutput(port.bridge, port.name, pkt, i))
        return RealTrace(text, trace, tuple(outputs))


# the commands sos's openvswitch plugin runs that neutrace's importer reads, and their file names
SOS_COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ovs-vsctl_-t_5_show", ("vsctl", "show")),
    ("ovs-vsctl_-t_5_list_interface", ("vsctl", "list", "interface")),
)
SOS_BRIDGE_COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ovs-ofctl_show_{br}", ("ofctl", "show", "{br}")),
    ("ovs-ofctl_dump-flows_{br}", ("ofctl", "dump-flows", "{br}")),
    ("ovs-ofctl_-O_OpenFlow13_show_{br}", ("ofctl", "-O", "OpenFlow13", "show", "{br}")),
    ("ovs-ofctl_-O_OpenFlow13_dump-flows_{br}",
     ("ofctl", "-O", "OpenFlow13", "dump-flows", "{br}")),
)


def dump_sos(sandbox: OvsSandbox, bridges: Iterable[str], folder: str | Path) -> Path:
    """Run the commands of sos's openvswitch plugin on the sandbox and write their output where a
    sosreport keeps it (``folder/sos_commands/openvswitch/``). Returns that folder."""
    out = Path(folder) / "sos_commands" / "openvswitch"
    out.mkdir(parents=True, exist_ok=True)

    def run(argv: tuple[str, ...]) -> str:
        tool, *args = argv
        return sandbox.vsctl(*args) if tool == "vsctl" else sandbox.ofctl(*args)

    for name, argv in SOS_COMMANDS:
        (out / name).write_text(run(argv))
    for br in bridges:
        for name, argv in SOS_BRIDGE_COMMANDS:
            (out / name.format(br=br)).write_text(run(tuple(a.format(br=br) for a in argv)))
    return out
