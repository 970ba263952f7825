"""DVR's Linux side on the real kernel against the engines: the qrouter- and fip- namespaces
neutrace programs for compute1 of examples/dvr (ip rules and route tables, the rfp-/fpr- veth
pair, the fg- port's proxy ARP for a floating IP that lives on no interface, NAT), built in
``nt-`` namespaces with a VM and the external network's gateway plugged in by veths (on a host
qr- and fg- are OVS internal ports: here the VM's and the gateway's veths end there).

Real packets (a raw-socket ping) are compared with `linuxnet` through `kernel_lab.MiniWalk`,
whose neighbour resolution here asks the engine itself (an ARP request received on the far
end), so proxy ARP is simulated, not assumed: the floating IP's MAC the gateway learns, where
the ping arrives, the addresses the VM and the outside see, and the conntrack entries.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest

import neutrace.agents
from neutrace import topology
from neutrace.agents.constants import FIP_RT_TBL
from neutrace.dataplane import LOOPBACK, VETH, Interface, Namespace, Route
from neutrace.packet import ARP_REPLY, ICMP_ECHO_REPLY, arp_request, ipv4
from neutrace.trace import ACCEPTED, RouteStep
from tests.support.kernel_lab import Lab, MiniWalk, lab_tag
from tests.support.paths import REPO

pytestmark = pytest.mark.root

CLOUD = topology.load(REPO / "examples" / "dvr" / "cloud.yaml")
STATE = neutrace.agents.program(CLOUD)
(FIP,) = CLOUD.floating_ips
GATEWAY = "203.0.113.1"
EXT_MAC = "52:54:00:00:71:01"
VM_MAC = "fa:16:3e:19:80:96"


def _rename(ns: Namespace, name: str, names: dict[str, str]) -> Namespace:
    """``ns`` as lab namespace ``name`` (peer namespaces renamed by ``names``)."""
    itfs = tuple(dataclasses.replace(i, peer_namespace=names.get(i.peer_namespace or "",
                                                                 i.peer_namespace))
                 for i in ns.interfaces)
    return dataclasses.replace(ns, name=name, interfaces=itfs, ip6tables="")


def dvr_lab() -> tuple[list[Namespace], str, str]:
    """compute1's qrouter- (``q``) and fip- (``f``), a VM (``vm``) on qr- of vm1's subnet and the
    gateway (``ext``) on fg-; the qr-/fg- names."""
    host = STATE.host(FIP.host)
    assert host is not None
    q = next(n for n in host.namespaces if n.kind == "qrouter")
    f = next(n for n in host.namespaces if n.kind == "fip")
    names = {q.name: "q", f.name: "f"}
    vm_port = CLOUD.port(FIP.port_id)
    qr = next(i.name for i in q.interfaces
              if i.name.startswith("qr-") and any(a.startswith("192.0.2.") for a in i.addresses))
    fg = next(i.name for i in f.interfaces if i.name.startswith("fg-"))
    q = _rename(q, "q", names)
    f = _rename(f, "f", names)
    # qr-/fg- become veths towards the VM and the gateway; the other qr- is left out
    itfs = tuple(dataclasses.replace(i, kind=VETH, peer="eth0", peer_namespace="vm")
                 if i.name == qr else i for i in q.interfaces
                 if not (i.name.startswith("qr-") and i.name != qr))
    kept = {i.name for i in itfs}
    q = dataclasses.replace(
        q, interfaces=itfs, routes=tuple(r for r in q.routes if r.device in kept),
        rules=tuple(r for r in q.rules if not (r.source or "").startswith("198.51.100.")),
        neighbours=tuple(n for n in q.neighbours if n.device in kept),
        sysctls=tuple((k, v) for k, v in q.sysctls
                      if not k.startswith("net.ipv4.conf.qr-") or f".{qr}." in k))
    f = dataclasses.replace(f, interfaces=tuple(
        dataclasses.replace(i, kind=VETH, peer="eth0", peer_namespace="ext") if i.name == fg
        else i for i in f.interfaces))
    vm = Namespace("vm", kind="vm", interfaces=(
        Interface("eth0", VETH, VM_MAC, addresses=(f"{FIP.fixed_ip_address}/24",), peer=qr,
                  peer_namespace="q"),),
        routes=(Route("default", "eth0", "192.0.2.1"),))
    ext = Namespace("ext", interfaces=(
        Interface("lo", LOOPBACK, addresses=("127.0.0.1/8",)),
        Interface("eth0", VETH, EXT_MAC, addresses=(f"{GATEWAY}/24",), peer=fg,
                  peer_namespace="f"),))
    assert vm_port.mac_address == VM_MAC
    return [q, f, vm, ext], qr, fg


class ArpWalk(MiniWalk):
    """MiniWalk whose neighbour resolution sends an ARP request to the far end's engine."""

    def resolve(self, host: str, ns: str, dev: str, ip: str) -> str | None:
        itf = self._itf(ns, dev)
        if itf.peer is None or itf.peer_namespace is None:
            return None
        src = next((a.split("/")[0] for a in itf.addresses if "." in a), "0.0.0.0")
        req = arp_request(itf.mac or "", src, ip)
        res = self.engine.receive(itf.peer_namespace, itf.peer, req, self.state, self.resolve)
        for out in res.outputs:
            if out.packet.arp_op == ARP_REPLY and out.packet.arp_spa == ip:
                return out.packet.arp_sha
        return None


@pytest.fixture()
def lab(netns_root: None) -> Iterator[tuple[Lab, list[Namespace], str, str]]:
    spaces, qr, fg = dvr_lab()
    lab = Lab(lab_tag(), spaces).up()
    try:
        yield lab, spaces, qr, fg
    finally:
        lab.down()


def test_floating_ip_through_the_fip_namespace(
        lab: tuple[Lab, list[Namespace], str, str]) -> None:
    kernel, spaces, qr, fg = lab
    sim = ArpWalk(spaces)
    fg_mac = next(i.mac for i in spaces[1].interfaces if i.name == fg)

    # proxy ARP: the gateway asks for the floating IP on fg-, fg- answers with its own MAC
    res = sim.engine.receive("f", fg, arp_request(EXT_MAC, GATEWAY, FIP.floating_ip_address),
                             sim.state, sim.resolve)
    (reply,) = [o.packet for o in res.outputs]
    assert reply.arp_op == ARP_REPLY and reply.arp_sha == fg_mac

    # outside -> floating IP: DNAT in qrouter-, the VM answers, SNAT back to the floating IP
    assert kernel.ping("ext", FIP.floating_ip_address) == f"reply {FIP.floating_ip_address}"
    assert kernel.neigh("ext")[("eth0", FIP.floating_ip_address)] == fg_mac
    (end,) = sim.send("ext", ipv4("", "", GATEWAY, FIP.floating_ip_address))
    assert end.disposition == ACCEPTED and end.namespace == "vm"
    assert end.packet.nw_dst == FIP.fixed_ip_address and end.packet.nw_src == GATEWAY
    (back,) = sim.send("vm", ipv4("", "", FIP.fixed_ip_address, GATEWAY).with_(
        tp_src=ICMP_ECHO_REPLY))
    assert back.disposition == ACCEPTED and back.namespace == "ext"
    assert back.packet.nw_src == FIP.floating_ip_address

    # the VM -> outside: ip rule from the fixed IP to table 16, rfp-, SNAT to the floating IP
    assert kernel.ping("vm", GATEWAY) == f"reply {GATEWAY}"
    (out,) = sim.send("vm", ipv4("", "", FIP.fixed_ip_address, GATEWAY))
    assert out.disposition == ACCEPTED and out.namespace == "ext"
    assert out.packet.nw_src == FIP.floating_ip_address
    tables = {step.table for ns, step in sim.steps if ns == "q" and isinstance(step, RouteStep)}
    assert str(FIP_RT_TBL) in tables, "the VM's traffic did not take the floating IP's table 16"
    # and the kernel's choice for it and for a VM without floating IP (the SNAT redirect)
    for src in (FIP.fixed_ip_address, "192.0.2.12"):
        (got,) = json.loads(kernel.exec("q", "ip", "-j", "route", "get", GATEWAY, "from", src,
                                        "iif", qr))
        found = sim.engine.fib("q").lookup(GATEWAY, src, 0, qr)
        assert found is not None
        assert (got.get("gateway"), got["dev"]) == (found[1].gateway, found[1].device), src

    # the NAT bindings of the qrouter: conntrack -L against the engine's table
    seen = {(e["orig_src"], e["orig_dst"], e["reply_src"], e["reply_dst"])
            for e in kernel.conntrack("q") if e["proto"] == "icmp"}
    engine = {(e.orig.src, e.orig.dst, e.reply.src, e.reply.dst)
              for e in sim.state.conntrack_of("lab", "q") if e.orig.proto == 1}
    assert engine == seen


def test_no_proxy_arp_for_an_address_not_routed_elsewhere(
        lab: tuple[Lab, list[Namespace], str, str]) -> None:
    """fg- answers only for addresses routed out of another device: not for a free address of
    its own subnet (the kernel's ``arp_fwd_proxy``)."""
    kernel, spaces, _qr, fg = lab
    sim = ArpWalk(spaces)
    free = "203.0.113.200"
    assert kernel.ping("ext", free) == "timeout"
    assert ("eth0", free) not in kernel.neigh("ext") or \
        kernel.neigh("ext")[("eth0", free)] in ("", "FAILED")
    res = sim.engine.receive("f", fg, arp_request(EXT_MAC, GATEWAY, free), sim.state,
                             sim.resolve)
    assert not res.outputs
