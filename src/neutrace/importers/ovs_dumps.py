"""Open vSwitch state from text dumps (layer 3): `dataplane.OvsBridge`s built from a folder laid out
as a sosreport lays out ``sos_commands/openvswitch/``, or from explicitly named files.

A sosreport names each file after its command, spaces turned into ``_`` and ``/`` into ``.``:

- ``ovs-vsctl_-t_5_show`` (``ovs-vsctl show`` in older sos): bridges, ports, interface type,
  tag, trunks, options (patch ``peer``, tunnel ``remote_ip``/``local_ip``/keys), fail_mode,
  datapath_type;
- ``ovs-ofctl_show_<bridge>`` or ``ovs-ofctl_-O_OpenFlow13_show_<bridge>``: ofport and MAC of
  each port;
- ``ovs-vsctl_-t_5_list_interface``: ofport, type, options, external_ids (used when present);
- ``ovs-ofctl_-O_OpenFlow13_dump-groups_<bridge>`` (1.1 to 1.5, when present): the groups;
- ``ovs-vsctl_-t_5_list_mirror`` and ``ovs-vsctl_-t_5_list_bridge`` (when present): the port
  mirrors of each bridge (ports by the UUIDs of ``list port``);
- ``ovs-vsctl_-t_5_list_port`` (when present): each Port's ``vlan_mode``, ``cvlans`` and
  ``other_config`` (``priority-tags``, ``qinq-ethtype``), which ``ovs-vsctl show`` does not print;
  the port config flags (``NO_FLOOD``, ``NO_FWD``, ...) come from ``ovs-ofctl show``;
- ``ovs-ofctl_-O_OpenFlow13_dump-flows_<bridge>`` first (then 1.4, 1.5, the plain
  ``ovs-ofctl_dump-flows_<bridge>``, 1.2, 1.1, 1.0): the flows (statistics are dropped). A dump
  that holds an error message instead of flows (the bridge refused that OpenFlow version:
  ``version negotiation failed``) is skipped for the next candidate.

Snap-packaged Open vSwitch's files (``openstack-hypervisor.ovs-vsctl_-t_5_show``,
``microovn.…``) are read alike. `neutrace.importers.ovs_capture` reads the same files for a
whole-host import, tolerantly (gaps instead of errors).

Errors name the file, the line and the fix; nothing is half-built. Files are read as bytes and
decoded as UTF-8 (`neutrace.syntax.text.read_file`): a byte that is not UTF-8 is an error naming
its line and column, unless ``lossy=True`` (U+FFFD, and an `InputWarning` naming the file). A
bridge without any dump-flows file loads with no flows and an `InputWarning` (every trace through
it is a table miss). A path that cannot be stat-ed (a name past the file system's length, a
NUL) is treated as absent, or as an error when the user named it.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

from neutrace.addr import stable_mac
from neutrace.dataplane import Flow, OvsBridge, OvsGroup, OvsMirror, OvsPort
from neutrace.errors import InputError, InputWarning, SyntaxParseError
from neutrace.syntax.ofctl import format_flow, parse_flows
from neutrace.syntax.offields import FieldValueError, ipv4_to_int, ipv6_to_int, read_uint
from neutrace.syntax.ofgroups import parse_groups
from neutrace.syntax.ovsdump import (
    OFPP_LOCAL,
    OfctlPort,
    OfctlShow,
    ShowBridge,
    ShowInterface,
    ShowPort,
    VsctlShow,
    format_ofctl_show,
    format_vsctl_show,
    parse_ofctl_show,
    parse_vsctl_list,
    parse_vsctl_show,
)
from neutrace.syntax.ovsfdb import MacEntry, parse_fdb_show
from neutrace.syntax.text import cut, decode

VSCTL_SHOW_FILES = ("ovs-vsctl_-t_5_show", "ovs-vsctl_show", "ovs-vsctl_--timeout_5_show")
LIST_INTERFACE_FILES = ("ovs-vsctl_-t_5_list_interface", "ovs-vsctl_list_interface",
                        "ovs-vsctl_-t_5_list_Interface")
LIST_PORT_FILES = ("ovs-vsctl_-t_5_list_port", "ovs-vsctl_list_port", "ovs-vsctl_-t_5_list_Port")
LIST_MIRROR_FILES = ("ovs-vsctl_-t_5_list_mirror", "ovs-vsctl_list_mirror")
LIST_BRIDGE_FILES = ("ovs-vsctl_-t_5_list_bridge", "ovs-vsctl_list_bridge")
OF_VERSIONS = ("OpenFlow13", "OpenFlow14", "OpenFlow15", "OpenFlow12", "OpenFlow11", "OpenFlow10")
PREFERRED = 3  # OpenFlow 1.3-1.5 before the plain (OpenFlow 1.0) dump
SNAP_PREFIXES = ("", "openstack-hypervisor.", "microovn.")
_NOT_FLOWS = re.compile(r"(version negotiation failed|is not a bridge or a socket|"
                        r"failed to connect|No such file|Connection refused|ovs-ofctl: )")


def _is_file(path: Path) -> bool:
    """``path.is_file()`` that says False for a path that cannot be stat-ed (a name past
    NAME_MAX or PATH_MAX, a NUL, no permission) instead of raising."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _read(path: Path, lossy: bool) -> str:
    """The text of a dump file (see the module's docstring on decoding)."""
    from neutrace.limits import fix_hint, limits

    cap = limits().max_file_bytes
    try:
        with path.open("rb") as f:
            data = f.read(cap + 1)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(cut(str(path), 200), "", f"cannot read the file: {reason}",
                         "check the path and its permissions") from None
    if len(data) > cap:
        raise InputError(str(path), "", f"the file is larger than the limit of {cap} bytes",
                         fix_hint("max_file_bytes"))
    text = decode(data, str(path), lossy=lossy)
    if lossy and "\ufffd" in text:
        try:
            decode(data, str(path))
        except SyntaxParseError as exc:
            warnings.warn(InputWarning(
                f"{path}:{exc.line}: {exc.problem}: read in lossy mode (the bytes became "
                "U+FFFD; a name or an address that held them no longer matches)"),
                stacklevel=3)
    return text


def sos_openvswitch_dir(path: str | Path) -> Path:
    """The ``sos_commands/openvswitch`` folder of a sosreport root, or ``path`` itself when it
    already holds the dumps."""
    p = Path(path)
    for candidate in (p / "sos_commands" / "openvswitch", p / "openvswitch", p):
        if any(_is_file(candidate / (pre + f)) for f in VSCTL_SHOW_FILES
               for pre in SNAP_PREFIXES):
            return candidate
    raise InputError(cut(str(p), 200), "", "no `ovs-vsctl show` dump found (looked for "
                     f"{', '.join(VSCTL_SHOW_FILES)} in sos_commands/openvswitch/ and the folder)",
                     "point --sos at a sosreport (or its sos_commands/openvswitch folder) taken "
                     "with the openvswitch plugin")


def _first(folder: Path, names: Iterable[str]) -> Path | None:
    for n in names:
        for pre in SNAP_PREFIXES:
            f = folder / (pre + n)
            if _is_file(f):
                return f
    return None


def _bridge_file(folder: Path, name: str) -> Path | None:
    """The dump file ``name`` (with a snap's prefix or not) if there is one; None when it is
    absent or a bridge's name makes it impossible (a ``/``, a NUL, past NAME_MAX)."""
    if "/" in name or "\x00" in name or len(os.fsencode(name)) > 200:
        return None
    return _first(folder, [name])


def _by_version(command: str, bridge: str) -> list[str]:
    """sos's file names of ``ovs-ofctl [-O V] COMMAND BRIDGE``, OpenFlow 1.3+ first."""
    versioned = [f"ovs-ofctl_-O_{v}_{command}_{bridge}" for v in OF_VERSIONS]
    return versioned[:PREFERRED] + [f"ovs-ofctl_{command}_{bridge}"] + versioned[PREFERRED:]


def groups_file_candidates(bridge: str) -> list[str]:
    """The sos file names of ``ovs-ofctl dump-groups BRIDGE`` (OpenFlow 1.1+ only)."""
    return [n for n in _by_version("dump-groups", bridge) if "OpenFlow10" not in n
            and n != f"ovs-ofctl_dump-groups_{bridge}"]


def flows_file_candidates(bridge: str) -> list[str]:
    """The names a bridge's flow dump may have, in the order they are preferred."""
    return _by_version("dump-flows", bridge)


def show_file_candidates(bridge: str) -> list[str]:
    """The names a bridge's ``ovs-ofctl show`` may have, in the order they are preferred."""
    return _by_version("show", bridge)


def looks_like_error(text: str) -> bool:
    """True if a dump holds an error message (or nothing) instead of its output."""
    head = text.strip().splitlines()[:2]
    return not head or any(_NOT_FLOWS.search(h) for h in head)


def load_sos(path: str | Path, *, lossy: bool = False) -> tuple[OvsBridge, ...]:
    """Every bridge of a sosreport (or of a folder of its openvswitch dumps). A bridge with no
    dump-flows file loads without flows, with an `InputWarning` saying so."""
    folder = sos_openvswitch_dir(path)
    show_path = _first(folder, VSCTL_SHOW_FILES)
    assert show_path is not None
    show = parse_vsctl_show(_read(show_path, lossy), source=str(show_path))
    ofctl: dict[str, Path] = {}
    flows: dict[str, Path] = {}
    for b in show.bridges:
        for name in show_file_candidates(b.name):
            f = _bridge_file(folder, name)
            if f is not None and not looks_like_error(_read(f, lossy)):
                ofctl[b.name] = f
                break
        for name in flows_file_candidates(b.name):
            f = _bridge_file(folder, name)
            if f is not None and not looks_like_error(_read(f, lossy)):
                flows[b.name] = f
                break
    missing = [b.name for b in show.bridges if b.name not in flows]
    if missing:
        warnings.warn(InputWarning(
            f"{folder}: no dump-flows file for bridge(s) {cut(', '.join(missing), 200)} (looked "
            f"for {cut(flows_file_candidates(missing[0])[PREFERRED])} and its -O OpenFlow1x "
            "variants): they load without flows, so every packet misses their tables"),
            stacklevel=2)
    groups: dict[str, Path] = {}
    for b in show.bridges:
        for name in groups_file_candidates(b.name):
            f = _bridge_file(folder, name)
            if f is not None and not looks_like_error(_read(f, lossy)):
                groups[b.name] = f
                break
    interfaces = _first(folder, LIST_INTERFACE_FILES)
    return load_files(show_path, ofctl_show=ofctl, flows=flows, list_interface=interfaces,
                      list_port=_first(folder, LIST_PORT_FILES), groups=groups, vsctl=show,
                      list_mirror=_first(folder, LIST_MIRROR_FILES),
                      list_bridge=_first(folder, LIST_BRIDGE_FILES), lossy=lossy)


def load_files(
    vsctl_show: str | Path | None,
    *,
    ofctl_show: Mapping[str, str | Path] | None = None,
    flows: Mapping[str, str | Path] | None = None,
    list_interface: str | Path | None = None,
    list_port: str | Path | None = None,
    groups: Mapping[str, str | Path] | None = None,
    vsctl: VsctlShow | None = None,
    list_mirror: str | Path | None = None,
    list_bridge: str | Path | None = None,
    lossy: bool = False,
) -> tuple[OvsBridge, ...]:
    """Bridges from explicit files: ``vsctl_show`` (``ovs-vsctl show``), per bridge
    ``ofctl_show`` (``ovs-ofctl show BR``) and ``flows`` (``ovs-ofctl dump-flows BR`` or an
    add-flows file), optionally ``list_interface`` (``ovs-vsctl list interface``) and
    ``list_port`` (``ovs-vsctl list port``: VLAN modes, cvlans, other_config) and per bridge
    ``groups`` (``ovs-ofctl -O OpenFlow13 dump-groups BR``), ``list_mirror`` with
    ``list_bridge`` (``ovs-vsctl list mirror`` / ``list bridge``: the port mirrors).

    Without ``vsctl_show`` every bridge named in ``flows``/``ofctl_show`` is built from its
    ``ovs-ofctl show`` alone (system ports, no VLAN tags or patch peers)."""
    ofctl_show = dict(ofctl_show or {})
    flows = dict(flows or {})
    if vsctl is None and vsctl_show is not None:
        p = Path(vsctl_show)
        vsctl = parse_vsctl_show(_read(p, lossy), source=str(p))
    shows: dict[str, tuple[str, OfctlShow]] = {}
    for br, f in ofctl_show.items():
        p = Path(f)
        shows[br] = (str(p), parse_ofctl_show(_read(p, lossy), source=str(p)))
    iface_rows: dict[str, dict[str, object]] = {}
    if list_interface is not None:
        p = Path(list_interface)
        for row in parse_vsctl_list(_read(p, lossy), source=str(p)):
            if isinstance(row.get("name"), str):
                iface_rows[str(row["name"])] = row
    port_rows: dict[str, dict[str, object]] = {}
    if list_port is not None:
        p = Path(list_port)
        for row in parse_vsctl_list(_read(p, lossy), source=str(p)):
            if isinstance(row.get("name"), str):
                port_rows[str(row["name"])] = row
    mirrors = _mirrors(list_mirror, list_bridge, port_rows, lossy)
    parsed_groups: dict[str, tuple[OvsGroup, ...]] = {}
    for br, f in (groups or {}).items():
        p = Path(f)
        parsed_groups[br] = parse_groups(_read(p, lossy), source=str(p))
    parsed_flows: dict[str, tuple[Flow, ...]] = {}
    for br, f in flows.items():
        p = Path(f)
        parsed_flows[br] = parse_flows(_read(p, lossy), source=str(p), keep_unsupported=True)
        odd = [fl for fl in parsed_flows[br] if fl.unsupported]
        if odd:
            warnings.warn(InputWarning(
                f"{p}: {len(odd)} flow(s) use what neutrace does not simulate (first: table="
                f"{odd[0].table}, priority={odd[0].priority}: {cut(odd[0].unsupported, 160)}): "
                "kept; a trace stops with an error where a packet hits one"), stacklevel=2)

    names = [b.name for b in vsctl.bridges] if vsctl is not None else []
    for br in [*ofctl_show, *flows]:
        if br not in names:
            if vsctl is not None:
                raise InputError(str(vsctl_show), "", f"bridge {br!r} (given flows or ports) is "
                                 "not in this `ovs-vsctl show`",
                                 f"name one of {', '.join(names) or '(none)'}")
            names.append(br)
    out: list[OvsBridge] = []
    for name in names:
        vb = vsctl.bridge(name) if vsctl is not None else None
        source, oshow = shows.get(name, ("", None))
        ports: list[OvsPort] = []
        if vb is not None:
            for vp in vb.ports:
                iface = vp.interfaces[0] if vp.interfaces else None
                iname = iface.name if iface is not None else vp.name
                ofport, mac = _ofport(name, iname, vp.name, oshow, iface_rows)
                if ofport is None:
                    raise InputError(source or str(vsctl_show), f"bridge {name}, port {vp.name}",
                                     "no ofport known for this port",
                                     f"add the output of `ovs-ofctl show {name}` (sos file "
                                     f"ovs-ofctl_show_{name})")
                if iface is not None:
                    _check_options(source or str(vsctl_show), name, vp.name, iface.options)
                row = iface_rows.get(iname, {})
                ext = row.get("external_ids")
                prow = port_rows.get(vp.name, {})
                op = oshow.by_name(iname) or oshow.by_name(vp.name) if oshow else None
                mode, cvlans, other = _port_columns(str(list_port), vp.name, prow)
                status, rstp = prow.get("status"), prow.get("rstp_status")
                stp = (status.get("stp_state") if isinstance(status, dict) else None) or (
                    rstp.get("rstp_port_state") if isinstance(rstp, dict) else None) or ""
                ports.append(OvsPort(
                    name=vp.name, ofport=ofport, type=iface.type if iface is not None else "",
                    tag=vp.tag, trunks=vp.trunks,
                    options=iface.options if iface is not None else (),
                    external_ids=tuple(sorted(ext.items())) if isinstance(ext, dict) else (),
                    mac=mac, config=op.config if op is not None else (),
                    state=op.state if op is not None else (),
                    vlan_mode=mode, cvlans=cvlans, other_config=other,
                    stp_state=str(stp).lower(),
                ))
        elif oshow is not None:
            for op in oshow.ports:
                ports.append(OvsPort(op.name, op.ofport,
                                     "internal" if op.ofport == OFPP_LOCAL else "", mac=op.mac))
        else:
            raise InputError(str(flows.get(name, "")), "", f"no ports known for bridge {name}",
                             f"add `ovs-vsctl show` and `ovs-ofctl show {name}` output")
        kwargs: dict[str, object] = {}
        if oshow is not None and oshow.frags != "normal":
            kwargs["frag_mode"] = oshow.frags
        if vb is not None:
            if vb.fail_mode:
                kwargs["fail_mode"] = vb.fail_mode
            if vb.datapath_type:
                kwargs["datapath_type"] = vb.datapath_type
        out.append(OvsBridge(name=name, ports=tuple(ports), flows=parsed_flows.get(name, ()),
                             groups=parsed_groups.get(name, ()),
                             mirrors=mirrors.get(name, ()),
                             **kwargs))  # type: ignore[arg-type]
    return tuple(out)


def _mirrors(list_mirror: str | Path | None, list_bridge: str | Path | None,
             port_rows: Mapping[str, Mapping[str, object]], lossy: bool
             ) -> dict[str, tuple[OvsMirror, ...]]:
    """Each bridge's mirrors (``list bridge``'s mirrors column), ports named through the UUIDs
    of ``list port``; a mirror naming a port that is not there selects nothing by it."""
    if list_mirror is None or list_bridge is None:
        return {}
    names = {str(r.get("_uuid")): n for n, r in port_rows.items()}
    rows = {str(r.get("_uuid")): r
            for r in parse_vsctl_list(_read(Path(list_mirror), lossy), source=str(list_mirror))}

    def ports(value: object) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value] if value else []
        return tuple(names[str(u)] for u in items if str(u) in names)

    def number(value: object) -> int | None:
        text = str(value)
        return int(text) if text.isascii() and text.isdigit() and len(text) < 6 else None

    out: dict[str, tuple[OvsMirror, ...]] = {}
    for br in parse_vsctl_list(_read(Path(list_bridge), lossy), source=str(list_bridge)):
        refs = br.get("mirrors")
        found = []
        for uuid in refs if isinstance(refs, list) else [refs] if refs else []:
            m = rows.get(str(uuid))
            if m is None:
                continue
            out_port = ports(m.get("output_port"))
            vlans = m.get("select_vlan")
            found.append(OvsMirror(
                name=str(m.get("name", "")), select_all=m.get("select_all") == "true",
                select_src_port=ports(m.get("select_src_port")),
                select_dst_port=ports(m.get("select_dst_port")),
                select_vlan=tuple(v for v in (number(x) for x in vlans) if v is not None)
                if isinstance(vlans, list) else (),
                output_port=out_port[0] if out_port else None,
                output_vlan=number(m.get("output_vlan")),
                snaplen=number(m.get("snaplen")) or 0))
        if found:
            out[str(br.get("name"))] = tuple(found)
    return out


def _port_columns(source: str, port: str, row: Mapping[str, object]
                  ) -> tuple[str, tuple[int, ...], tuple[tuple[str, str], ...]]:
    """The Port columns of ``ovs-vsctl list port`` the engine reads and ``ovs-vsctl show``
    does not print: ``vlan_mode``, ``cvlans``, ``other_config``."""
    mode = row.get("vlan_mode")
    cvlans = row.get("cvlans")
    vlans: tuple[int, ...] = ()
    if isinstance(cvlans, list) and cvlans:
        try:
            vlans = tuple(sorted(int(str(x)) for x in cvlans))
        except ValueError:
            raise InputError(source, f"port {port}", f"cvlans {cut(str(cvlans))} are not VLAN "
                             "numbers", "give `ovs-vsctl list port` as it printed them") from None
    other = row.get("other_config")
    return (mode if isinstance(mode, str) else "", vlans,
            tuple(sorted((str(k), str(v)) for k, v in other.items()))
            if isinstance(other, dict) else ())


def _check_options(source: str, bridge: str, port: str,
                   options: tuple[tuple[str, str], ...]) -> None:
    """The interface options the engines read: tunnel keys (``flow`` or a number), tunnel
    endpoints (``flow`` or an IPv4 address)."""
    for key, value in options:
        try:
            if key in ("key", "in_key", "out_key") and value != "flow":
                if read_uint(value) >> 64:
                    raise FieldValueError("past 64 bits")
            elif key in ("remote_ip", "local_ip") and value != "flow" and ":" not in value:
                ipv4_to_int(value)
            elif key in ("remote_ip", "local_ip") and value != "flow":
                ipv6_to_int(value)
        except FieldValueError as exc:
            raise InputError(source, f"bridge {bridge}, port {port}",
                             f"options:{key}={cut(value)!r}: {exc}",
                             "give `ovs-vsctl show` as it printed the interface's "
                             "options") from None


def _ofport(bridge: str, iface: str, port: str, show: OfctlShow | None,
            rows: Mapping[str, Mapping[str, object]]) -> tuple[int | None, str | None]:
    if show is not None:
        op = show.by_name(iface) or show.by_name(port)
        if op is not None:
            return op.ofport, op.mac
    if iface == bridge:
        return OFPP_LOCAL, None
    row = rows.get(iface)
    if row is not None:
        value = row.get("ofport")
        mac = row.get("mac_in_use")
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 6 \
                and 0 < int(value) < 0xFFFF:
            return int(value), mac if isinstance(mac, str) else None
    return None, None


def write_sos(bridges: Iterable[OvsBridge], folder: str | Path, *,
              uuid: str = "00000000-0000-4000-8000-000000000000") -> Path:
    """Write ``bridges`` as a sosreport's ``sos_commands/openvswitch`` folder
    (``ovs-vsctl_-t_5_show``, ``ovs-ofctl_show_<br>``, ``ovs-ofctl_dump-flows_<br>``) under
    ``folder``; `load_sos` reads it back. Returns the openvswitch folder."""
    bridges = tuple(bridges)
    out = Path(folder) / "sos_commands" / "openvswitch"
    out.mkdir(parents=True, exist_ok=True)
    show = VsctlShow(uuid=uuid, bridges=tuple(
        ShowBridge(
            name=b.name, fail_mode=b.fail_mode, datapath_type=b.datapath_type,
            ports=tuple(
                ShowPort(name=p.name, tag=p.tag, trunks=p.trunks, interfaces=(
                    ShowInterface(name=p.name, type=p.type, options=p.options),))
                for p in _with_local(b)
            ),
        ) for b in bridges
    ))
    (out / VSCTL_SHOW_FILES[0]).write_text(format_vsctl_show(show))
    for b in bridges:
        ports = tuple(OfctlPort(p.ofport, p.name, p.mac or stable_mac(f"{b.name}/{p.name}"))
                      for p in _with_local(b))
        (out / f"ovs-ofctl_show_{b.name}").write_text(
            format_ofctl_show(OfctlShow(stable_mac(b.name).replace(":", "").rjust(16, "0"),
                                        ports)))
        (out / f"ovs-ofctl_dump-flows_{b.name}").write_text(
            "".join(f" {format_flow(f)}\n" for f in b.flows))
    return out


def _with_local(b: OvsBridge) -> tuple[OvsPort, ...]:
    if b.port(b.name) is not None:
        return b.ports
    return (*b.ports, OvsPort(b.name, OFPP_LOCAL, "internal"))


def _ports_kind(text: str) -> str:
    first = text.lstrip().splitlines()[0].strip() if text.strip() else ""
    if re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-", first):
        return "vsctl-show"
    if "OFPT_FEATURES_REPLY" in text or re.search(r"^\s*LOCAL\(", text, re.M):
        return "ofctl-show"
    if re.match(r"^_uuid\s+:", first):
        return "vsctl-list"
    return ""


def load_paths(flows: Iterable[str], ports: Iterable[str],
               bridge: str | None = None, *, lossy: bool = False) -> tuple[OvsBridge, ...]:
    """Bridges from command-line style arguments: ``flows`` items ``[BRIDGE=]FILE`` (dump-flows or
    add-flows text), ``ports`` items ``[BRIDGE=]FILE`` holding ``ovs-vsctl show``,
    ``ovs-ofctl show BRIDGE`` or ``ovs-vsctl list interface`` output (recognised by content; an
    ``ovs-ofctl show`` names its bridge in its ``LOCAL(...)`` line). A flows file without
    ``BRIDGE=`` belongs to ``bridge``, or to the only bridge the ports files name."""
    vsctl: Path | None = None
    listing: Path | None = None
    shows: dict[str, Path] = {}
    for item in ports:
        name, path = _split_item(item)
        text = _read(path, lossy)
        kind = _ports_kind(text)
        if kind == "vsctl-show":
            vsctl = path
        elif kind == "vsctl-list":
            listing = path
        elif kind == "ofctl-show":
            parsed = parse_ofctl_show(text, source=str(path))
            local = next((p.name for p in parsed.ports if p.ofport == OFPP_LOCAL), None)
            br = name or local or bridge
            if br is None:
                raise InputError(str(path), "", "cannot tell which bridge this `ovs-ofctl show` "
                                 "is of (it has no LOCAL port)", "write --ports BRIDGE=FILE")
            shows[br] = path
        else:
            raise InputError(str(path), "line 1", "not the output of `ovs-vsctl show`, "
                             "`ovs-ofctl show BRIDGE` or `ovs-vsctl list interface`",
                             "give one of those outputs")
    known: list[str] = list(shows)
    if vsctl is not None:
        known = [b.name for b in parse_vsctl_show(_read(vsctl, lossy),
                                                   source=str(vsctl)).bridges]
    flow_files: dict[str, Path] = {}
    for item in flows:
        name, path = _split_item(item)
        br = name or bridge or (known[0] if len(known) == 1 else None)
        if br is None:
            raise InputError(str(path), "", "cannot tell which bridge these flows belong to "
                             f"(bridges: {', '.join(known) or 'none'})",
                             "write --flows BRIDGE=FILE or give --bridge")
        flow_files[br] = path
    return load_files(vsctl, ofctl_show=shows, flows=flow_files, list_interface=listing,
                      lossy=lossy)


def _split_item(item: str) -> tuple[str | None, Path]:
    name, sep, path = item.partition("=")
    if sep and not _is_file(Path(item)) and "/" not in name:
        p = Path(path)
        if not _is_file(p):
            raise InputError(cut(path, 200), "", "no such file (or a path that cannot be "
                             "stat-ed)", "check the path")
        return name, p
    p = Path(item)
    if not _is_file(p):
        raise InputError(cut(item, 200), "", "no such file (or a path that cannot be stat-ed)",
                         "check the path")
    return None, p


FDB_FILE = "ovs-appctl_fdb.show_{bridge}"


def load_sos_fdb(path: str | Path) -> dict[str, tuple[MacEntry, ...]]:
    """NORMAL's MAC learning tables of a sosreport (``ovs-appctl_fdb.show_<bridge>``, what sos's
    openvswitch plugin collects), per bridge; bridges without the file are left out."""
    folder = sos_openvswitch_dir(path)
    out: dict[str, tuple[MacEntry, ...]] = {}
    for f in sorted(folder.glob(FDB_FILE.format(bridge="*"))):
        text = _read(f, lossy=False)
        if looks_like_error(text) and "port" not in text:
            continue
        out[f.name[len(FDB_FILE.format(bridge="")):]] = parse_fdb_show(text, source=str(f))
    return out


def load_fdb_files(items: Iterable[str]) -> dict[str, tuple[MacEntry, ...]]:
    """MAC tables from ``BRIDGE=FILE`` items (``ovs-appctl fdb/show BRIDGE`` output)."""
    out: dict[str, tuple[MacEntry, ...]] = {}
    for item in items:
        br, p = _split_item(item)
        if br is None:
            raise InputError(item, "", "fdb/show does not name its bridge",
                             "give the bridge: --fdb br-int=FILE")
        out[br] = parse_fdb_show(_read(p, lossy=False), source=str(p))
    return out
