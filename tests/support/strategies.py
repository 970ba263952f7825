"""Hypothesis strategies shared by several test modules: random packets (every field a microflow
or the engines take) and random clouds the builder can describe."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from neutrace.builder import CloudBuilder, port
from neutrace.packet import (
    ETH_TYPE_ARP,
    ETH_TYPE_IP,
    ETH_TYPE_IPV6,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    Packet,
)

_mac = st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b))
_ip4 = st.ip_addresses(v=4).map(str)
_ip6 = st.ip_addresses(v=6).map(str)


@st.composite
def packets(draw: st.DrawFn) -> Packet:
    kind = draw(st.sampled_from(["arp", "ip", "icmp", "tcp", "udp", "icmp6", "udp6"]))
    vlan = draw(st.none() | st.integers(0, 4095))
    base: dict[str, object] = dict(dl_src=draw(_mac), dl_dst=draw(_mac),
                                   vlan_tci=0 if vlan is None else 0x1000 | vlan)
    if draw(st.booleans()):
        tun_ip = _ip4.filter(lambda ip: ip != "0.0.0.0")  # 0.0.0.0 means "no tunnel" to OVS
        base.update(tun_id=draw(st.integers(1, 2**24 - 1)), tun_src=draw(tun_ip),
                    tun_dst=draw(tun_ip))
    if kind == "arp":
        return Packet(dl_type=ETH_TYPE_ARP, arp_op=draw(st.integers(1, 2)), arp_spa=draw(_ip4),
                      arp_tpa=draw(_ip4), arp_sha=draw(_mac), arp_tha=draw(_mac),
                      **base)  # type: ignore[arg-type]
    if kind in ("icmp6", "udp6"):
        proto = IPPROTO_ICMPV6 if kind == "icmp6" else IPPROTO_UDP
        extra: dict[str, object] = {}
        if kind == "icmp6" and draw(st.booleans()):
            extra = dict(tp_src=136, nd_target=draw(_ip6.filter(lambda ip: ip != "::")),
                         nd_tll=draw(_mac.filter(lambda m: m != "00:00:00:00:00:00")))
        else:
            extra = dict(tp_src=draw(st.integers(0, 255)), tp_dst=draw(st.integers(0, 255)))
        return Packet(dl_type=ETH_TYPE_IPV6, ipv6_src=draw(_ip6), ipv6_dst=draw(_ip6),
                      nw_proto=proto, nw_ttl=draw(st.integers(0, 255)), **extra,
                      **base)  # type: ignore[arg-type]
    proto = {"ip": 0, "icmp": IPPROTO_ICMP, "tcp": IPPROTO_TCP, "udp": IPPROTO_UDP}[kind]
    if kind == "ip":
        proto = draw(st.sampled_from([0, 47, 112]))
    ports: dict[str, object] = {}
    if proto in (IPPROTO_ICMP,):
        ports = dict(tp_src=draw(st.integers(0, 255)), tp_dst=draw(st.integers(0, 255)))
    elif proto in (IPPROTO_TCP, IPPROTO_UDP):
        ports = dict(tp_src=draw(st.integers(0, 65535)), tp_dst=draw(st.integers(0, 65535)))
    if proto == IPPROTO_TCP:
        ports["tcp_flags"] = draw(st.integers(0, 0xFFF))
    return Packet(dl_type=ETH_TYPE_IP, nw_src=draw(_ip4), nw_dst=draw(_ip4), nw_proto=proto,
                  nw_ttl=draw(st.integers(0, 255)), nw_tos=draw(st.integers(0, 63)) * 4,
                  **ports, **base)  # type: ignore[arg-type]


@st.composite
def clouds(draw: Any) -> tuple[CloudBuilder, int]:
    n_compute = draw(st.integers(1, 3))
    b = CloudBuilder("prop").host("net-01", "10.0.0.1", "10.1.0.1", roles=["network"],
                                  bridge_mappings={"physnet1": "br-ex"})
    for i in range(n_compute):
        b.host(f"cmp-{i}", f"10.0.0.{10 + i}", f"10.1.0.{10 + i}",
               bridge_mappings={"physnet1": "br-ex"})
    n_nets = draw(st.integers(1, 3))
    prefix = draw(st.sampled_from([24, 28, 29]))
    for n in range(n_nets):
        kind = draw(st.sampled_from(["vxlan", "vlan"]))
        b.network(f"n{n}", network_type=kind, physical_network="physnet1" if kind == "vlan"
                  else None, segmentation_id=100 + n if kind == "vlan" else None)
        b.subnet(f"n{n}", f"s{n}", f"10.{20 + n}.0.0/{prefix}",
                 enable_dhcp=draw(st.booleans()))
    routed = draw(st.lists(st.integers(0, n_nets - 1), unique=True, max_size=n_nets))
    if routed:
        b.router("r", interfaces=[f"s{n}" for n in routed])
    n_vms = draw(st.integers(0, 4))
    explicit: set[tuple[int, int]] = set()
    for v in range(n_vms):
        ports = []
        for _ in range(draw(st.integers(1, 2))):
            n = draw(st.integers(0, n_nets - 1))
            # .2 .. .4 may clash with DHCP's allocation order only if we give them: use high ones
            host_octet = draw(st.integers(5, 6))
            if draw(st.booleans()) and (n, host_octet) not in explicit:
                explicit.add((n, host_octet))
                ports.append(port(f"n{n}", f"10.{20 + n}.0.{host_octet}"))
            else:
                ports.append(port(f"n{n}"))
        b.vm(f"vm{v}", f"cmp-{draw(st.integers(0, n_compute - 1))}", *ports)
    return b, n_vms
