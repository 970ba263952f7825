"""keepalived's configuration as Neutron writes it (``neutron.agent.linux.keepalived``), and
what keepalived does with it on the node it makes master.

`KeepalivedInstance` is one ``vrrp_instance`` (``VR_<vrid>``): it starts as ``BACKUP`` with the
default priority, ``nopreempt``, tracks the HA device, holds the primary VIP (an address of the
first free /24 of 169.254.0.0/16 outside the metadata address, the DVR link-local range and the
HA network, with the VRID as host part) in ``virtual_ipaddress`` and every other VIP (the
router's interface and gateway addresses, its floating IPs, the IPv6 link-local addresses of
qr-/qg-) in ``virtual_ipaddress_excluded``, sorted by address as text, and the default route and
extra routes in ``virtual_routes``. ``config_text`` is ``KeepalivedConf.get_config_str()``
verbatim (keepalived >= 2.0.3: ``no_track`` on untracked VIPs and on routes).

`master_addresses` / `master_routes`: what keepalived configures on the master (``ip address
add`` of every VIP, ``ip route add`` of every virtual route with ``protocol static``); a backup
gets none of it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from neutrace.agents import constants as c
from neutrace.dataplane import Route


@dataclass(frozen=True, slots=True)
class VipAddress:
    """``KeepalivedVipAddress``: ``ip_cidr dev interface [scope s] [no_track]``."""

    ip_cidr: str
    interface: str
    scope: str | None = None
    track: bool = True

    def build_config(self) -> str:
        out = f"{self.ip_cidr} dev {self.interface}"
        if self.scope:
            out += f" scope {self.scope}"
        if not self.track and c.KEEPALIVED_NO_TRACK:
            out += " no_track"
        return out


@dataclass(frozen=True, slots=True)
class VirtualRoute:
    """``KeepalivedVirtualRoute``: ``destination [via nexthop] [dev interface] [scope s]``."""

    destination: str
    nexthop: str | None = None
    interface: str | None = None
    scope: str | None = None

    def build_config(self) -> str:
        out = self.destination
        if self.nexthop:
            out += f" via {self.nexthop}"
        if self.interface:
            out += f" dev {self.interface}"
        if self.scope:
            out += f" scope {self.scope}"
        if c.KEEPALIVED_NO_TRACK:
            out += " no_track"
        return out + " protocol static"


def primary_vip_range(ha_cidrs: tuple[str, ...]) -> str:
    """``get_free_range``: the first /24 of 169.254.0.0/16 clear of the metadata address, the
    DVR link-local range and the HA network."""
    excluded = [ipaddress.ip_network(x) for x in (c.METADATA_CIDR, c.DVR_FIP_LL_CIDR,
                                                  *ha_cidrs)]
    parent = ipaddress.ip_network(c.PRIVATE_CIDR_RANGE)
    for candidate in parent.subnets(new_prefix=c.PRIMARY_VIP_RANGE_SIZE):
        if not any(candidate.overlaps(x) for x in excluded):
            return str(candidate)
    raise ValueError(f"no free /{c.PRIMARY_VIP_RANGE_SIZE} in {parent}")


@dataclass(frozen=True, slots=True)
class KeepalivedInstance:
    """One ``vrrp_instance`` of an HA router (``HaRouter._init_keepalived_manager`` and the
    VIPs and routes ``process()`` adds)."""

    interface: str  # the ha- device
    vrouter_id: int
    ha_cidrs: tuple[str, ...]
    vips: tuple[VipAddress, ...] = ()
    gateway_routes: tuple[VirtualRoute, ...] = ()
    extra_routes: tuple[VirtualRoute, ...] = ()
    state: str = "BACKUP"
    priority: int = c.HA_DEFAULT_PRIORITY
    advert_int: int = c.HA_VRRP_ADVERT_INT

    @property
    def name(self) -> str:
        return f"VR_{self.vrouter_id}"

    def primary_vip(self) -> str:
        """``get_primary_vip``: the VRID as host part of the primary VIP range, /24."""
        net = ipaddress.ip_network(primary_vip_range(self.ha_cidrs))
        return f"{net.network_address + self.vrouter_id}/{c.PRIMARY_VIP_RANGE_SIZE}"

    @property
    def routes(self) -> tuple[VirtualRoute, ...]:
        return self.gateway_routes + self.extra_routes

    def build_config(self) -> list[str]:
        lines = [f"vrrp_instance {self.name} {{", f"    state {self.state}",
                 f"    interface {self.interface}", f"    virtual_router_id {self.vrouter_id}",
                 f"    priority {self.priority}", f"    garp_master_delay {c.GARP_PRIMARY_DELAY}",
                 "    nopreempt", f"    advert_int {self.advert_int}",
                 "    track_interface {", f"        {self.interface}", "    }",
                 "    virtual_ipaddress {",
                 f"        {VipAddress(self.primary_vip(), self.interface).build_config()}",
                 "    }"]
        if self.vips:
            lines.append("    virtual_ipaddress_excluded {")
            lines += [f"        {v.build_config()}"
                      for v in sorted(self.vips, key=lambda v: v.ip_cidr)]
            lines.append("    }")
        if self.routes:
            lines.append("    virtual_routes {")
            lines += [f"        {r.build_config()}" for r in self.routes]
            lines.append("    }")
        lines.append("}")
        return lines


def config_text(instances: tuple[KeepalivedInstance, ...]) -> str:
    """``KeepalivedConf.get_config_str()``: global_defs, then each instance (no final newline,
    as ``replace_file`` writes it)."""
    lines = ["global_defs {", f"    notification_email_from {c.KEEPALIVED_EMAIL_FROM}",
             f"    router_id {c.KEEPALIVED_ROUTER_ID}", "}"]
    for instance in instances:
        lines += instance.build_config()
    return "\n".join(lines)


def config_path(router_id: str) -> str:
    """``KeepalivedManager.get_full_config_file_path('keepalived.conf')``."""
    return f"{c.HA_CONFS_PATH}/{router_id}/keepalived.conf"


def master_addresses(instance: KeepalivedInstance) -> dict[str, tuple[str, ...]]:
    """Device -> the addresses keepalived adds on the master, in the configuration's order:
    the primary VIP on the HA device, every other VIP on its own device."""
    out: dict[str, list[str]] = {instance.interface: [instance.primary_vip()]}
    for vip in sorted(instance.vips, key=lambda v: v.ip_cidr):
        out.setdefault(vip.interface, []).append(vip.ip_cidr)
    return {dev: tuple(addrs) for dev, addrs in out.items()}


def master_routes(instance: KeepalivedInstance, device_of: dict[str, str]) -> list[Route]:
    """The virtual routes keepalived adds on the master (``protocol static``); a route without
    a device leaves by the device of the connected route of its nexthop (``device_of``:
    nexthop -> device)."""
    out = []
    for r in instance.routes:
        dest = "default" if ipaddress.ip_network(r.destination).prefixlen == 0 else r.destination
        dev = r.interface or (device_of.get(r.nexthop) if r.nexthop else None)
        if dev is None:
            continue
        out.append(Route(dest, dev, gateway=r.nexthop,
                         scope=r.scope if r.scope == "link" else "universe"))
    return out
