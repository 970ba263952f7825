"""A cloud whose names carry markup (``<script>``, quotes, ``&``), as an imported sosreport
could: every renderer that puts names into a page or a diagram must escape them."""

from __future__ import annotations

from neutrace.dataplane import (
    BRIDGE,
    NS_ROUTER,
    NS_VM,
    OVS_INTERNAL,
    PHYSICAL,
    TAP,
    VETH,
    CloudState,
    Flow,
    HostState,
    Interface,
    Namespace,
    OvsBridge,
    OvsPort,
    Segment,
)

EVIL = '<script>alert("x")</script>&amp;\'"'
HOST = f"host{EVIL}"
VM = f"vm<img src=x onerror=alert(1)>{EVIL}"
TAPNAME = "tap<b>&\"'"
QBR = "qbr<i>&"
QVB = "qvb<u>\"'"
QVO = "qvo<s>&"
ROUTER = f"qrouter-<svg onload=alert(1)>{EVIL}"
QR = "qr-<x>&\"'"
SEGMENT = f"seg<iframe>{EVIL}"
COMMENT = "<script>alert(1)</script>&amp; 'q' <b>"  # iptables comments cannot hold a double quote
NAMES = (HOST, VM, TAPNAME, QBR, QVB, QVO, ROUTER, QR, SEGMENT, "br-<int>&")


def markup_cloud() -> CloudState:
    """One host: a VM behind a qbr on br-int, a router namespace on br-int, a NIC on br-ex."""
    br_int = OvsBridge("br-<int>&", ports=(
        OvsPort(QVO, 1, tag=1),
        OvsPort(QR, 2, type="internal", tag=1),
        OvsPort("int-br-ex", 3, type="patch", options=(("peer", "phy-br-ex"),)),
    ), flows=(Flow(0, 1, (("in_port", "1"),), "NORMAL"),
              Flow(0, 0, (), "NORMAL")))
    br_ex = OvsBridge("br-ex", ports=(
        OvsPort("phy-br-ex", 1, type="patch", options=(("peer", "int-br-ex"),)),
        OvsPort("eth3", 2),
    ), flows=(Flow(0, 0, (), "NORMAL"),))
    root = Namespace("", interfaces=(
        Interface(QBR, BRIDGE),
        Interface(TAPNAME, TAP, mac="fe:16:3e:00:00:01", peer="eth0", peer_namespace=VM,
                  master=QBR),
        Interface(QVB, VETH, peer=QVO, master=QBR),
        Interface(QVO, VETH, peer=QVB),
        Interface("eth3", PHYSICAL, segment=SEGMENT),
    ), iptables=f"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment \"{COMMENT}\" "
                "-j ACCEPT\nCOMMIT\n")
    vm = Namespace(VM, kind=NS_VM, interfaces=(
        Interface("eth0", VETH, mac="fa:16:3e:00:00:01", addresses=("10.0.0.5/24",),
                  peer=TAPNAME, peer_namespace=""),
    ))
    router = Namespace(ROUTER, kind=NS_ROUTER, interfaces=(
        Interface(QR, OVS_INTERNAL, mac="fa:16:3e:00:00:02", addresses=("10.0.0.1/24",)),
    ), iptables=f"*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m comment --comment "
                f"\"{COMMENT}\" -j ACCEPT\nCOMMIT\n")
    host = HostState(HOST, management_ip="192.0.2.1", tunnel_ip=None,
                     ovs_bridges=(br_int, br_ex), namespaces=(root, vm, router))
    return CloudState(hosts=(host,), segments=(Segment(SEGMENT, f"desc {EVIL}"),),
                      metadata=(("cloud", EVIL),))
