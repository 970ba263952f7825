"""An export of a cloud's Neutron objects to a neutrace topology (layer 3): ``neutrace
import-openstack``, and the expected side of ``neutrace diff`` given such an export.

Reads, in any mix of files:

- the Neutron API's JSON bodies: ``{"networks": [...]}``, ``{"subnets": [...]}``, ``{"ports":
  [...]}``, ``{"routers": [...]}``, ``{"floatingips": [...]}``, ``{"security_groups": [...]}``,
  ``{"security_group_rules": [...]}`` (``GET /v2.0/ports`` as an admin: ``binding:host_id``,
  ``provider:*``), one object of a ``show`` (``{"port": {...}}``), or several bodies in a list;
- the JSON of the ``openstack`` client: ``openstack network/subnet/port/router/floating ip/
  security group/security group rule list --long -f json`` (arrays with the client's column
  names: ``"MAC Address"``, ``"Fixed IP Addresses"``...) and ``show -f json`` objects (the
  SDK's names: ``binding_host_id``, ``provider:network_type``...). The kind of an array is read
  from its columns.

Hosts come from the ports' ``binding:host_id``; a host with DHCP or router ports has the
``network`` role, one with ``compute:*`` ports ``compute``. What an export does not hold — a
host's management IP, tunnel IP, bridge mappings and NICs, its agents' options — comes from
`HostHints` (the command line's options, or the captured hosts for ``neutrace diff``); each
value that comes from neither is an `Assumption` (a placeholder, reported, never silent).
Bad input is an `neutrace.errors.InputError` naming the file and the place in it.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neutrace.dataplane import PHYSICAL
from neutrace.errors import InputError
from neutrace.importers.cloud import ImportedCloud
from neutrace.importers.linux_capture import TUNNEL_SEGMENT

# -- what the export lacks ---------------------------------------------------------------------


class Missing(enum.StrEnum):
    """What an export does not say, and a placeholder stood in for."""

    MANAGEMENT_IP = "management_ip"  # not used by the data plane
    TUNNEL_IP = "tunnel_ip"  # the OVS agent's local_ip: tunnel port names, br-tun flows
    BRIDGE_MAPPING = "bridge_mapping"  # [ovs] bridge_mappings of a physical network
    SEGMENTATION_ID = "segmentation_id"  # the client's list has no provider:segmentation_id
    PHYSICAL_NETWORK = "physical_network"
    SUBNET_POOL = "allocation_pools"
    UNBOUND_PORT = "unbound_port"  # a VM port without binding:host_id: left out
    UNASSOCIATED_FLOATING_IP = "unassociated_floating_ip"  # left out
    DUPLICATE_NAME = "duplicate_name"  # a network/subnet/group name used twice: id appended
    DVR_MAC = "dvr_mac"  # a DVR host's MAC (the server's dvr_host_macs, in no API object)


@dataclass(frozen=True, slots=True)
class Assumption:
    """A value the export lacked: ``missing`` of ``subject`` (a host, network...), the
    ``value`` put in its place, and the ``option`` that gives the real one."""

    missing: Missing
    subject: str
    value: str
    option: str = ""


@dataclass(frozen=True)
class HostHints:
    """What the export lacks about one host (``None``/empty: not known)."""

    management_ip: str | None = None
    tunnel_ip: str | None = None
    bridge_mappings: tuple[tuple[str, str], ...] = ()  # (physnet, bridge)
    physical_nics: tuple[tuple[str, str, str], ...] = ()  # (nic, bridge, segment)
    tunnel_nic: str | None = None
    tunnel_types: tuple[str, ...] = ()
    l2_population: bool | None = None
    arp_responder: bool | None = None
    firewall_driver: str | None = None
    dvr_mac: str | None = None  # the host's DVR MAC (dvr_host_macs: in no API object)


@dataclass(frozen=True)
class Hints:
    """What the export lacks: per host, plus defaults for every host (``"*"``)."""

    hosts: Mapping[str, HostHints] = field(default_factory=dict)
    bridge_mappings: tuple[tuple[str, str], ...] = ()  # for every host without its own
    defaults: HostHints = field(default_factory=HostHints)  # the agents' options of every host

    def of(self, host: str) -> HostHints:
        return self.hosts.get(host, self.defaults)


@dataclass(frozen=True)
class Export:
    """The Neutron objects of an export, by kind, each with the file it came from."""

    objects: Mapping[str, tuple[tuple[dict[str, Any], str], ...]]

    def of(self, kind: str) -> tuple[tuple[dict[str, Any], str], ...]:
        return self.objects.get(kind, ())


@dataclass(frozen=True)
class Imported:
    """The topology (the data of a topology file) and what stood in for the export's gaps."""

    topology: dict[str, Any]
    assumptions: tuple[Assumption, ...]


# -- reading -----------------------------------------------------------------------------------

KINDS = ("networks", "subnets", "ports", "routers", "floatingips", "security_groups",
         "security_group_rules")
_SINGULAR = {"network": "networks", "subnet": "subnets", "port": "ports", "router": "routers",
             "floatingip": "floatingips", "security_group": "security_groups",
             "security_group_rule": "security_group_rules"}
# the openstack client's column names -> the API's field names
_COLUMNS = {
    "id": "id", "name": "name", "status": "status", "project": "project_id",
    "mac_address": "mac_address", "fixed_ip_addresses": "fixed_ips",
    "security_groups": "security_groups", "security_group_ids": "security_groups",
    "device_owner": "device_owner", "device_id": "device_id", "network": "network_id",
    "network_id": "network_id", "subnet": "cidr", "gateway": "gateway_ip",
    "dhcp": "enable_dhcp", "allocation_pools": "allocation_pools",
    "name_servers": "dns_nameservers", "host_routes": "host_routes",
    "ip_version": "ip_version", "network_type": "provider:network_type",
    "provider_network_type": "provider:network_type",
    "provider_physical_network": "provider:physical_network",
    "provider_segmentation_id": "provider:segmentation_id",
    "router_type": "router:external", "is_router_external": "router:external",
    "router_external": "router:external", "shared": "shared", "is_shared": "shared",
    "subnets": "subnets", "mtu": "mtu", "binding_host_id": "binding:host_id",
    "host_id": "binding:host_id",
    "external_gateway_info": "external_gateway_info", "distributed": "distributed",
    "ha": "ha", "routes": "routes", "floating_ip_address": "floating_ip_address",
    "fixed_ip_address": "fixed_ip_address", "port": "port_id", "port_id": "port_id",
    "floating_network": "floating_network_id", "floating_network_id": "floating_network_id",
    "router": "router_id", "router_id": "router_id", "direction": "direction",
    "ethertype": "ethertype", "ip_protocol": "protocol", "protocol": "protocol",
    "ip_range": "remote_ip_prefix", "remote_ip_prefix": "remote_ip_prefix",
    "remote_security_group": "remote_group_id", "remote_group_id": "remote_group_id",
    "port_range": "port_range", "port_range_min": "port_range_min",
    "port_range_max": "port_range_max", "security_group": "security_group_id",
    "security_group_id": "security_group_id", "rules": "security_group_rules",
    "security_group_rules": "security_group_rules", "tenant_id": "project_id",
    "project_id": "project_id", "port_security_enabled": "port_security_enabled",
    "allowed_address_pairs": "allowed_address_pairs", "enable_dhcp": "enable_dhcp",
    "gateway_ip": "gateway_ip", "cidr": "cidr", "dns_nameservers": "dns_nameservers",
    "ipv6_ra_mode": "ipv6_ra_mode", "ipv6_address_mode": "ipv6_address_mode",
    "ipv6_address_mode_": "ipv6_address_mode",
}


def _key(k: str) -> str:
    if ":" in k and k.split(":")[0] in ("provider", "router", "binding"):
        return k
    norm = re.sub(r"[^a-z0-9]+", "_", k.lower()).strip("_")
    return _COLUMNS.get(norm, norm)


def _kind_of(obj: Mapping[str, Any]) -> str | None:
    """The kind of one object, by its fields."""
    keys = set(obj)
    if "security_group_id" in keys and "direction" in keys:
        return "security_group_rules"
    if "floating_ip_address" in keys:
        return "floatingips"
    if "mac_address" in keys or "fixed_ips" in keys:
        return "ports"
    if "cidr" in keys:
        return "subnets"
    if "external_gateway_info" in keys or "distributed" in keys or "ha" in keys:
        return "routers"
    if "security_group_rules" in keys or (
            keys <= {"id", "name", "description", "project_id", "tags", "stateful",
                     "shared", "created_at", "updated_at", "revision_id"} and "id" in keys
            and "description" in keys):
        return "security_groups"
    if "subnets" in keys or "provider:network_type" in keys or "router:external" in keys:
        return "networks"
    return None


def read(paths: Sequence[str | Path]) -> Export:
    """The objects of the export files ``paths``."""
    out: dict[str, list[tuple[dict[str, Any], str]]] = {k: [] for k in KINDS}
    for p in paths:
        path = Path(p)
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except OSError as exc:
            raise InputError(str(path), "", f"cannot read it ({exc.strerror or exc})",
                             "give the JSON of the openstack client or of the Neutron API"
                             ) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            line = getattr(exc, "lineno", None)
            raise InputError(str(path), "", f"not JSON ({exc})", "give the output of "
                             "'openstack ... list --long -f json' or a Neutron API body",
                             line=line) from None
        _collect(data, str(path), "", out)
    return Export({k: tuple(v) for k, v in out.items()})


def _is_body(data: Any) -> bool:
    """A Neutron API body (``{"ports": [...]}``, ``{"port": {...}}``), not an object."""
    return isinstance(data, dict) and not {"id", "ID"} & set(data) and any(
        k in KINDS or k in _SINGULAR for k in data)


def _collect(data: Any, source: str, where: str, out: dict[str, list[tuple[dict[str, Any],
                                                                          str]]]) -> None:
    if _is_body(data):
        for k, v in data.items():
            kind = _SINGULAR.get(k, k)
            if kind not in KINDS:
                continue
            items = v if isinstance(v, list) else [v]
            for i, item in enumerate(items):
                place = f"{where}{k}[{i}]" if isinstance(v, list) else f"{where}{k}"
                out[kind].append((_object(item, source, place), f"{source}: {place}"))
        return
    if isinstance(data, list):
        for i, item in enumerate(data):
            if _is_body(item):
                _collect(item, source, f"[{i}].", out)
                continue
            obj = _object(item, source, f"[{i}]")
            kind = _kind_of(obj)
            if kind is None:
                raise InputError(source, f"[{i}]", "not a Neutron object this reads "
                                 f"(fields: {', '.join(sorted(obj)[:8])})",
                                 "give networks, subnets, ports, routers, floating IPs, "
                                 "security groups or their rules")
            out[kind].append((obj, f"{source}: [{i}]"))
        return
    if isinstance(data, dict):
        obj = _object(data, source, "")
        kind = _kind_of(obj)
        if kind is not None:
            out[kind].append((obj, source))
            return
    raise InputError(source, "", "not an export of Neutron objects", "give the JSON of "
                     "'openstack network/subnet/port/router/floating ip/security group "
                     "[rule] list --long -f json', or a Neutron API body such as "
                     '{"ports": [...]}')


def _object(item: Any, source: str, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InputError(source, where, f"expected an object, found {type(item).__name__}",
                         "give each Neutron object as a JSON object")
    return {_key(str(k)): v for k, v in item.items()}


# -- values ------------------------------------------------------------------------------------


class _Reader:
    """Typed access to one object's fields, errors naming its file and place."""

    def __init__(self, obj: Mapping[str, Any], where: str) -> None:
        self.obj = obj
        self.where = where

    def fail(self, fld: str, problem: str, fix: str) -> InputError:
        source, _, place = self.where.partition(": ")
        return InputError(source, f"{place}.{fld}" if place else fld, problem, fix)

    def text(self, fld: str, required: bool = False) -> str | None:
        v = self.obj.get(fld)
        if v is None or v == "":
            if required:
                raise self.fail(fld, "missing", "export the objects with all their fields "
                                "(--long, or as an admin)")
            return None
        if not isinstance(v, (str, int)):
            raise self.fail(fld, f"expected a string, found {type(v).__name__}",
                            "give the export unchanged")
        return str(v)

    def flag(self, fld: str, default: bool) -> bool:
        v = self.obj.get(fld)
        if v is None:
            return default
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("true", "yes", "external", "up", "1"):
            return True
        if isinstance(v, str) and v.lower() in ("false", "no", "internal", "down", "0"):
            return False
        raise self.fail(fld, f"not a boolean: {v!r}", "give true or false")

    def number(self, fld: str) -> int | None:
        v = self.obj.get(fld)
        if v is None or v == "":
            return None
        try:
            return int(v)
        except (TypeError, ValueError):
            raise self.fail(fld, f"not a number: {v!r}", "give an integer") from None

    def seq(self, fld: str) -> list[Any]:
        v = self.obj.get(fld)
        if v is None or v == "":
            return []
        if isinstance(v, str):  # the client's older columns: "a, b" or one per line
            return [x.strip() for x in re.split(r"[,\n]", v) if x.strip()]
        if not isinstance(v, list):
            raise self.fail(fld, f"expected a list, found {type(v).__name__}",
                            "give the export unchanged")
        return v

    def fixed_ips(self) -> list[tuple[str | None, str]]:
        """``(subnet_id, ip_address)`` pairs (the API's objects, or the client's text)."""
        out: list[tuple[str | None, str]] = []
        raw = self.obj.get("fixed_ips")
        items = raw if isinstance(raw, list) else (
            re.findall(r"ip_address='([^']+)',\s*subnet_id='([^']+)'", raw) if isinstance(
                raw, str) else None)
        if items is None:
            if raw is None:
                return out
            raise self.fail("fixed_ips", f"not a list of addresses: {raw!r}",
                            "give the export unchanged")
        for i, it in enumerate(items):
            if isinstance(it, tuple):
                out.append((it[1], it[0]))
            elif isinstance(it, dict) and isinstance(it.get("ip_address"), str):
                sid = it.get("subnet_id")
                out.append((sid if isinstance(sid, str) else None, it["ip_address"]))
            else:
                raise self.fail(f"fixed_ips[{i}]", f"not an address: {it!r}",
                                'give {"subnet_id": ..., "ip_address": ...}')
        for _, ip in out:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise self.fail("fixed_ips", f"{ip!r} is not an IP address",
                                "give the export unchanged") from None
        return out


# -- what the captured hosts say -----------------------------------------------------------


def _driver(name: str) -> str | None:
    """The topology's name of a ``[securitygroup] firewall_driver`` value."""
    low = name.lower()
    if "hybrid" in low or low == "iptables":
        return "iptables_hybrid"
    if "openvswitch" in low or low.endswith("ovsfirewalldriver"):
        return "openvswitch"
    if "noop" in low:
        return "noop"
    return None


def captured_hints(imported: ImportedCloud) -> Hints:
    """What the captured hosts say of what an export lacks: each host's tunnel IP, its OVS
    agent's bridge mappings, tunnel types, l2_population, arp_responder and firewall driver
    (its openvswitch_agent.ini), its physical NICs (the NICs of the mapped bridges) and the NIC
    of the tunnel IP (an OVS bridge's own port holding it is read as that bridge's NIC)."""
    agents = dict(imported.agents)
    out: dict[str, HostHints] = {}
    for h in imported.cold.hosts:
        conf = agents.get(h.name)
        root = h.root
        nics = tuple((i.name, b.name, i.segment) for i in root.interfaces
                     if i.kind == PHYSICAL and i.segment and i.segment != TUNNEL_SEGMENT
                     for b in h.ovs_bridges if b.port(i.name) is not None)
        tunnel_nic = None
        if h.tunnel_ip:
            holder = next((i for i in root.interfaces if any(
                a.split("/")[0] == h.tunnel_ip for a in i.addresses)), None)
            bridge = h.bridge(holder.name) if holder else None
            if bridge is not None:
                holder = next((i for i in root.interfaces if i.kind == PHYSICAL
                               and bridge.port(i.name) is not None), None)
            tunnel_nic = holder.name if holder else None
        known = conf is not None and not conf.inferred
        dvr_mac = next((m.group(1) for b in h.ovs_bridges if b.name != "br-int"
                        for f in b.flows if f.table == 1  # DVR_PROCESS(_PHYSICAL)
                        for m in [_DVR_SRC_RE.search(f.actions)] if m), None)
        out[h.name] = HostHints(
            tunnel_ip=h.tunnel_ip, bridge_mappings=conf.bridge_mappings if conf else (),
            physical_nics=nics, tunnel_nic=tunnel_nic,
            tunnel_types=conf.tunnel_types if conf else (),
            l2_population=conf.l2_population if known and conf else None,
            arp_responder=conf.arp_responder if known and conf else None,
            firewall_driver=_driver(conf.firewall_driver) if conf else None, dvr_mac=dvr_mac)
    return Hints(out)


#: DVR_PROCESS rewrites a router interface's source MAC to the host's DVR MAC.
_DVR_SRC_RE = re.compile(r"(?:set_field:|mod_dl_src:)(fa:16:3f(?::[0-9a-f]{2}){3})(?:->eth_src)?")
