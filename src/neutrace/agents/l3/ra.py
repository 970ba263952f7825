"""radvd in a router namespace, as Neutron 29's ``neutron/agent/linux/ra.py`` (``DaemonMonitor``)
configures it (layer 3).

``RouterInfo._process_internal_ports`` enables radvd when a router interface has an IPv6 subnet;
``DaemonMonitor._generate_radvd_conf`` writes ``<ra_confs>/<router id>.radvd.conf`` (``ra_confs``
defaults to ``$state_path/ra``, ``/var/lib/neutron/ra``): one ``interface qr-...`` block per
interface port with IPv6 subnets, rendered from Neutron's Jinja template, whose whitespace
control and missing final newline are kept byte for byte (blocks follow each other with no
newline between them, as Neutron writes them):

- ``AdvLinkMTU`` when the network's MTU is at least 1280 (``IPV6_MIN_MTU``);
- ``AdvOtherConfigFlag on`` if a subnet is ``dhcpv6-stateless``, ``AdvManagedFlag on`` if one is
  ``dhcpv6-stateful`` (the O and M bits);
- ``RDNSS`` with up to three DNS servers of the SLAAC subnets;
- a prefix with ``AdvAutonomous on`` per SLAAC or DHCPv6-stateless subnet, ``off`` per
  DHCPv6-stateful one; a subnet without ``ipv6_ra_mode`` adds no prefix (the interface is still
  advertised: the router is a default router, nothing more);
- the route to the metadata address ``fe80::a9fe:a9fe/128``.
"""

from __future__ import annotations

import ipaddress

from neutrace import model
from neutrace.dataplane import ConfigFile

RA_CONFS = "/var/lib/neutron/ra"  # [DEFAULT] ra_confs = $state_path/ra
MIN_RTR_ADV_INTERVAL = 30  # [DEFAULT] min_rtr_adv_interval
MAX_RTR_ADV_INTERVAL = 100  # [DEFAULT] max_rtr_adv_interval
MAX_RDNSS_ENTRIES = 3
IPV6_MIN_MTU = 1280


def radvd_conf_path(router_id: str) -> str:
    """``utils.get_conf_file_name(ra_confs, router_id, 'radvd.conf')``."""
    return f"{RA_CONFS}/{router_id}.radvd.conf"


def _v6_subnets(cloud: model.Cloud, port: model.Port) -> list[model.Subnet]:
    """The IPv6 subnets of the port's fixed IPs, in their order (the RPC's ``subnets``)."""
    subnets = [cloud.subnet(f.subnet_id) for f in port.fixed_ips]
    return [s for s in dict.fromkeys(subnets)
            if ipaddress.ip_network(s.cidr, strict=False).version == 6]


def interface_block(interface_name: str, subnets: list[model.Subnet], mtu: int) -> str:
    """``CONFIG_TEMPLATE.render(...)`` for one interface (no final newline: Jinja's default)."""
    modes = {s.ipv6_ra_mode for s in subnets}
    auto = [s.cidr for s in subnets
            if s.ipv6_ra_mode in (model.IPV6_SLAAC, model.DHCPV6_STATELESS)]
    stateful = [s.cidr for s in subnets if s.ipv6_ra_mode == model.DHCPV6_STATEFUL]
    dns = [d for s in subnets if s.ipv6_ra_mode == model.IPV6_SLAAC
           for d in s.dns_nameservers][:MAX_RDNSS_ENTRIES]
    out = (f"interface {interface_name}\n{{\n   AdvSendAdvert on;\n"
           f"   MinRtrAdvInterval {MIN_RTR_ADV_INTERVAL};\n"
           f"   MaxRtrAdvInterval {MAX_RTR_ADV_INTERVAL};")
    if mtu >= IPV6_MIN_MTU:
        out += f"\n   AdvLinkMTU {mtu};\n   "
    if model.DHCPV6_STATELESS in modes:
        out += "\n   AdvOtherConfigFlag on;\n   "
    if model.DHCPV6_STATEFUL in modes:
        out += "\n   AdvManagedFlag on;\n   "
    if dns:
        out += "\n   RDNSS " + "".join(f" {d} " for d in dns) + " {};\n   "
    for prefix in auto:
        out += (f"\n   prefix {prefix}\n   {{\n        AdvOnLink on;\n"
                "        AdvAutonomous on;\n   };\n   ")
    for prefix in stateful:
        out += (f"\n   prefix {prefix}\n   {{\n        AdvOnLink on;\n"
                "        AdvAutonomous off;\n   };\n   ")
    return out + "\n\n   route fe80::a9fe:a9fe/128 {\n   };\n};"


def radvd_conf(cloud: model.Cloud, router_id: str, namespace: str,
               ports: list[tuple[str, model.Port]]) -> ConfigFile | None:
    """The radvd.conf for the interfaces ``(device name, port)`` of a router, radvd running in
    ``namespace``, or None when none has an IPv6 subnet (``DaemonMonitor.enable``: radvd is
    not started)."""
    blocks = []
    for dev, port in ports:
        subnets = _v6_subnets(cloud, port)
        if subnets:
            blocks.append(interface_block(dev, subnets, cloud.network(port.network_id).mtu))
    if not blocks:
        return None
    return ConfigFile(radvd_conf_path(router_id), "".join(blocks), namespace)
