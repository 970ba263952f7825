"""A small Python builder for a cloud, for people who prefer code to a topology file.

``CloudBuilder`` collects the same data a topology file holds (docs/topology.md: the keyword
arguments are the file's keys) and ``build()`` hands it to ``neutrace.topology.from_dict``, so the
validation, the defaults and the generated ids are exactly those of the YAML loader::

    cloud = (
        CloudBuilder("demo")
        .host("ctl", "10.0.0.11", "10.1.0.11", roles=["network"])
        .host("cmp", "10.0.0.21", "10.1.0.21")
        .network("net1", network_type="vxlan", segmentation_id=100)
        .subnet("net1", "sub1", "192.168.1.0/24")
        .vm("vm1", "cmp", port("net1", ip="192.168.1.10"))
        .build()
    )

Errors are ``TopologyError`` with source ``<builder>`` and the path of the offending value, as in
a file (``vms[0].ports[0].ip``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from neutrace.errors import TopologyError
from neutrace.model import Cloud
from neutrace.topology import from_dict

SOURCE = "<builder>"
Data = dict[str, Any]


def _set(data: Data, **values: Any) -> Data:
    """``data`` plus the values that are not None (None means: leave the key out)."""
    for key, value in values.items():
        if value is not None:
            data[key] = _plain(value)
    return data


def _plain(value: Any) -> Any:
    """Tuples to lists and mappings to dicts, as YAML would give them."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def port(
    network: str,
    ip: str | Sequence[str] | None = None,
    *,
    subnet: str | None = None,
    id: str | None = None,
    name: str | None = None,
    mac: str | None = None,
    security_groups: Sequence[str] | None = None,
    port_security_enabled: bool | None = None,
    allowed_address_pairs: Sequence[Mapping[str, str]] | None = None,
) -> Data:
    """A VM port (``vms[].ports[]``)."""
    return _set({"network": network}, ip=ip, subnet=subnet, id=id, name=name, mac=mac,
                security_groups=security_groups, port_security_enabled=port_security_enabled,
                allowed_address_pairs=allowed_address_pairs)


def rule(
    direction: str,
    protocol: str | int | None = None,
    port_range_min: int | None = None,
    port_range_max: int | None = None,
    *,
    ethertype: str | None = None,
    remote_ip_prefix: str | None = None,
    remote_group: str | None = None,
    id: str | None = None,
) -> Data:
    """A security group rule; ``rule("ingress", "tcp", 22)`` allows tcp/22 in (max = min)."""
    if port_range_min is not None and port_range_max is None:
        port_range_max = port_range_min
    return _set({"direction": direction}, protocol=protocol, port_range_min=port_range_min,
                port_range_max=port_range_max, ethertype=ethertype,
                remote_ip_prefix=remote_ip_prefix, remote_group=remote_group, id=id)


class CloudBuilder:
    """Chainable: every method returns the builder; ``build()`` returns the ``Cloud``."""

    def __init__(self, name: str) -> None:
        self._data: Data = {"name": name, "hosts": []}
        self._pending_subnets: list[tuple[str, Data]] = []
        self._pending_dhcp: list[tuple[str, Data]] = []

    def host(
        self,
        name: str,
        management_ip: str,
        tunnel_ip: str | None = None,
        *,
        roles: Sequence[str] | None = None,
        bridge_mappings: Mapping[str, str] | None = None,
        physical_nics: Sequence[Mapping[str, str]] | None = None,
        tunnel_types: Sequence[str] | None = None,
        l2_population: bool | None = None,
        arp_responder: bool | None = None,
        firewall_driver: str | None = None,
        tunnel_nic: str | None = None,
        local_vlans: Mapping[str, int] | None = None,
    ) -> CloudBuilder:
        """A host; ``physical_nics`` items are ``{"name", "bridge", "segment"}``."""
        self._data["hosts"].append(_set(
            {"name": name, "management_ip": management_ip}, tunnel_ip=tunnel_ip, roles=roles,
            bridge_mappings=bridge_mappings, physical_nics=physical_nics,
            tunnel_types=tunnel_types, l2_population=l2_population, arp_responder=arp_responder,
            firewall_driver=firewall_driver, tunnel_nic=tunnel_nic, local_vlans=local_vlans))
        return self

    def network(
        self,
        name: str,
        *,
        network_type: str | None = None,
        physical_network: str | None = None,
        segmentation_id: int | None = None,
        router_external: bool | None = None,
        shared: bool | None = None,
        mtu: int | None = None,
        project_id: str | None = None,
        id: str | None = None,
    ) -> CloudBuilder:
        """A network; without ``network_type`` it is a vxlan tenant network."""
        data = _set({"name": name}, id=id, router_external=router_external, shared=shared,
                    mtu=mtu, project_id=project_id)
        if network_type is not None or physical_network is not None or \
                segmentation_id is not None:
            data["provider"] = _set({"network_type": network_type or "vxlan"},
                                    physical_network=physical_network,
                                    segmentation_id=segmentation_id)
        self._data.setdefault("networks", []).append(data)
        return self

    _UNSET: Any = object()

    def subnet(
        self,
        network: str,
        name: str,
        cidr: str,
        *,
        gateway_ip: str | None = _UNSET,
        enable_dhcp: bool | None = None,
        allocation_pools: Sequence[tuple[str, str]] | None = None,
        dns_nameservers: Sequence[str] | None = None,
        host_routes: Sequence[tuple[str, str]] | None = None,
        ip_version: int | None = None,
        id: str | None = None,
    ) -> CloudBuilder:
        """A subnet of ``network`` (a name given to ``network()``); ``gateway_ip=None`` means no
        gateway, leaving it out means the first address; pools and routes are pairs."""
        data = _set({"name": name}, id=id, cidr=cidr, ip_version=ip_version,
                    enable_dhcp=enable_dhcp, dns_nameservers=dns_nameservers)
        if gateway_ip is not self._UNSET:
            data["gateway_ip"] = gateway_ip
        if allocation_pools is not None:
            data["allocation_pools"] = [{"start": a, "end": b} for a, b in allocation_pools]
        if host_routes is not None:
            data["host_routes"] = [{"destination": d, "nexthop": n} for d, n in host_routes]
        self._pending_subnets.append((network, data))
        return self

    def dhcp_port(
        self,
        network: str,
        host: str,
        *,
        id: str | None = None,
        mac: str | None = None,
        ip: str | Sequence[str] | None = None,
    ) -> CloudBuilder:
        """Pin the id/MAC/IP of ``network``'s DHCP port on ``host``."""
        self._pending_dhcp.append((network, _set({"host": host}, id=id, mac=mac, ip=ip)))
        return self

    def vm(self, name: str, host: str, *ports: Mapping[str, Any] | str) -> CloudBuilder:
        """A VM with its ports in NIC order: ``port(...)`` dicts, or a network name alone."""
        items = [{"network": p} if isinstance(p, str) else _plain(p) for p in ports]
        self._data.setdefault("vms", []).append({"name": name, "host": host, "ports": items})
        return self

    def router(
        self,
        name: str,
        *,
        host: str | None = None,
        external_gateway: str | None = None,
        gateway_ip: str | None = None,
        enable_snat: bool | None = None,
        gateway_port_id: str | None = None,
        gateway_mac: str | None = None,
        interfaces: Sequence[str | Mapping[str, str]] = (),
        routes: Sequence[tuple[str, str]] = (),
        id: str | None = None,
    ) -> CloudBuilder:
        """A router; ``external_gateway`` is the external network's name; ``interfaces`` are
        subnet names or ``{"subnet", "port_id", "ip", "mac"}``."""
        data = _set({"name": name}, id=id, host=host)
        if external_gateway is not None:
            data["external_gateway"] = _set({"network": external_gateway}, ip=gateway_ip,
                                            enable_snat=enable_snat, port_id=gateway_port_id,
                                            mac=gateway_mac)
        elif gateway_ip or enable_snat is not None or gateway_port_id or gateway_mac:
            raise TopologyError(SOURCE, f"router({name!r})", "gateway settings without "
                                "external_gateway", "pass external_gateway=<external network>")
        if interfaces:
            data["interfaces"] = [{"subnet": i} if isinstance(i, str) else _plain(i)
                                  for i in interfaces]
        if routes:
            data["routes"] = [{"destination": d, "nexthop": n} for d, n in routes]
        self._data.setdefault("routers", []).append(data)
        return self

    def floating_ip(
        self,
        port: str,
        floating_ip_address: str | None = None,
        *,
        floating_network: str | None = None,
        fixed_ip_address: str | None = None,
        router: str | None = None,
        id: str | None = None,
        port_id: str | None = None,
        port_mac: str | None = None,
    ) -> CloudBuilder:
        """A floating IP for ``port`` (``"<vm>:<index>"``, a VM name or a VM port's id)."""
        self._data.setdefault("floating_ips", []).append(_set(
            {"port": port}, floating_ip_address=floating_ip_address,
            floating_network=floating_network, fixed_ip_address=fixed_ip_address,
            router=router, id=id, port_id=port_id, port_mac=port_mac))
        return self

    def security_group(
        self,
        name: str,
        *rules: Mapping[str, Any],
        default_egress: bool | None = None,
        id: str | None = None,
    ) -> CloudBuilder:
        """A security group with ``rule(...)`` dicts (Neutron's two egress rules are added unless
        ``default_egress=False``)."""
        data = _set({"name": name}, id=id, default_egress=default_egress)
        data["rules"] = [_plain(r) for r in rules]
        self._data.setdefault("security_groups", []).append(data)
        return self

    def outside(
        self,
        name: str,
        ip: str,
        *,
        segment: str | None = None,
        via: str | None = None,
        mac: str | None = None,
        prefixlen: int | None = None,
        gateway: str | None = None,
    ) -> CloudBuilder:
        """Something outside the cloud: on a physical ``segment``, or behind ``via``."""
        self._data.setdefault("outside", []).append(_set(
            {"name": name, "ip": ip}, segment=segment, via=via, mac=mac, prefixlen=prefixlen,
            gateway=gateway))
        return self

    def to_dict(self) -> Data:
        """The topology as the data a topology file holds (``yaml.safe_dump`` writes it)."""
        data = copy.deepcopy(self._data)
        networks = {n["name"]: n for n in data.get("networks", [])}
        for what, pending, key in (("subnet", self._pending_subnets, "subnets"),
                                   ("dhcp_port", self._pending_dhcp, "dhcp_ports")):
            for network, item in pending:
                if network not in networks:
                    raise TopologyError(
                        SOURCE, f"{what}({network!r}, ...)", f"unknown network {network!r}",
                        "call network() first; networks: " + (", ".join(networks) or "none"))
                networks[network].setdefault(key, []).append(copy.deepcopy(item))
        return data

    def build(self) -> Cloud:
        """Validate and fill in, exactly as ``neutrace.topology.load`` does for a file."""
        return from_dict(self.to_dict(), source=SOURCE)
