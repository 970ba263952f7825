#!/usr/bin/env python3
"""Benchmark: neutrace's Linux engines on a compute host with N hybrid-firewall ports.

The root namespace holds N ``qbr``/``tap``/``qvb`` sets and iptables_hybrid-style rules (raw zones,
per-port ingress/egress/spoofing chains, an ipset per security group) — about 30 rules per port.
Printed per size, medians:

- load: parsing the iptables-save/ipset text and building `LinuxEngine` vs ``iptables-restore`` of
  the same text in a scratch network namespace (when run as root);
- bridge: one `LinuxEngine.bridge` traversal of a NEW packet and of an ESTABLISHED reply through the
  last port's qbr (the worst case: its chains come last), in microseconds;
- the ratio of each to the smallest size (how it scales).

Run: ``python benchmarks/linux_engine.py [--sizes 10,100,500] [--packets 300]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

from neutrace.dataplane import BRIDGE, TAP, VETH, HostState, Interface, Namespace
from neutrace.engines.linuxnet import LinuxEngine, LinuxState
from neutrace.packet import IPPROTO_TCP, ipv4


def dev(i: int) -> str:
    return f"{i:08x}-{i % 100:02d}"[:11]


def host(n: int) -> tuple[HostState, str]:
    raw = ["*raw", ":PREROUTING ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
           ":neutron-openvswi-PREROUTING - [0:0]", "-A PREROUTING -j neutron-openvswi-PREROUTING"]
    chains = [":neutron-filter-top - [0:0]", ":neutron-openvswi-FORWARD - [0:0]",
              ":neutron-openvswi-sg-chain - [0:0]", ":neutron-openvswi-sg-fallback - [0:0]"]
    fwd: list[str] = []
    sg: list[str] = []
    per_port: list[str] = []
    interfaces: list[Interface] = []
    for i in range(n):
        d = dev(i)
        tap, qvb, qbr = f"tap{d}", f"qvb{d}", f"qbr{d}"
        ip, mac = f"10.{i // 250}.{i % 250}.4", f"fa:16:3e:00:{i // 256:02x}:{i % 256:02x}"
        zone = 4097 + i
        raw += [f"-A neutron-openvswi-PREROUTING -m physdev --physdev-in {qvb} -j CT --zone {zone}",
                f"-A neutron-openvswi-PREROUTING -i {qvb} -j CT --zone {zone}",
                f"-A neutron-openvswi-PREROUTING -m physdev --physdev-in {tap} -j CT --zone {zone}"]
        short = d[:10]
        ic, oc, sc = (f"neutron-openvswi-i{short}", f"neutron-openvswi-o{short}",
                      f"neutron-openvswi-s{short}")
        chains += [f":{ic} - [0:0]", f":{oc} - [0:0]", f":{sc} - [0:0]"]
        fwd += [f"-A neutron-openvswi-FORWARD -m physdev --physdev-out {tap} --physdev-is-bridged "
                "-j neutron-openvswi-sg-chain",
                f"-A neutron-openvswi-FORWARD -m physdev --physdev-in {tap} --physdev-is-bridged "
                "-j neutron-openvswi-sg-chain"]
        sg += [f"-A neutron-openvswi-sg-chain -m physdev --physdev-out {tap} --physdev-is-bridged "
               f"-j {ic}",
               f"-A neutron-openvswi-sg-chain -m physdev --physdev-in {tap} --physdev-is-bridged "
               f"-j {oc}"]
        per_port += [
            f"-A {ic} -m state --state RELATED,ESTABLISHED -j RETURN",
            f"-A {ic} -d {ip}/32 -p udp -m udp --sport 67 --dport 68 -j RETURN",
            f"-A {ic} -p tcp -m tcp --dport 22 -j RETURN",
            f"-A {ic} -p icmp -j RETURN",
            f"-A {ic} -m set --match-set NIPv4sg src -j RETURN",
            f"-A {ic} -m state --state INVALID -j DROP",
            f"-A {ic} -j neutron-openvswi-sg-fallback",
            f"-A {oc} -s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 --dport 67 "
            "-j RETURN",
            f"-A {oc} -j {sc}",
            f"-A {oc} -p udp -m udp --sport 68 --dport 67 -j RETURN",
            f"-A {oc} -p udp -m udp --sport 67 --dport 68 -j DROP",
            f"-A {oc} -m state --state RELATED,ESTABLISHED -j RETURN",
            f"-A {oc} -j RETURN",
            f"-A {oc} -m state --state INVALID -j DROP",
            f"-A {oc} -j neutron-openvswi-sg-fallback",
            f"-A {sc} -s {ip}/32 -m mac --mac-source {mac} -j RETURN",
            f"-A {sc} -j DROP",
        ]
        interfaces += [Interface(qbr, BRIDGE),
                       Interface(tap, TAP, "fe" + mac[2:], master=qbr, peer="eth0",
                                 peer_namespace=f"vm{i}"),
                       Interface(qvb, VETH, master=qbr, peer=f"qvo{d}", peer_namespace="")]
    text = "\n".join([
        *raw, "COMMIT", "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]", *chains,
        "-A FORWARD -j neutron-filter-top", "-A FORWARD -j neutron-openvswi-FORWARD",
        *fwd, *sg, "-A neutron-openvswi-sg-chain -j ACCEPT", *per_port,
        "-A neutron-openvswi-sg-fallback -j DROP", "COMMIT", ""])
    ipsets = "create NIPv4sg hash:net family inet\n" + "".join(
        f"add NIPv4sg 10.{i // 250}.{i % 250}.4\n" for i in range(n))
    root = Namespace("", interfaces=tuple(interfaces), iptables=text, ipsets=ipsets)
    return HostState("bench", namespaces=(root,)), text


def kernel_restore(text: str, ipsets: str) -> float | None:
    if os.geteuid() != 0:
        return None
    name = f"nt-bench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ipset", "restore"], input=ipsets,
                       text=True, check=True)
        start = time.perf_counter()
        subprocess.run(["ip", "netns", "exec", name, "iptables-restore"], input=text, text=True,
                       check=True)
        return time.perf_counter() - start
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,100,500")
    ap.add_argument("--packets", type=int, default=300)
    args = ap.parse_args()
    base: dict[str, float] = {}
    print(f"{'ports':>6} {'rules':>7} {'load ms':>9} {'restore ms':>11} {'new us':>8} "
          f"{'est us':>8}   ratios to the first size (load/new/est)")
    for n in (int(x) for x in args.sizes.split(",")):
        hs, text = host(n)
        start = time.perf_counter()
        engine = LinuxEngine(hs)
        load = time.perf_counter() - start
        restore = kernel_restore(text, hs.namespaces[0].ipsets)
        i = n - 1
        d = dev(i)
        mac = f"fa:16:3e:00:{i // 256:02x}:{i % 256:02x}"
        ip = f"10.{i // 250}.{i % 250}.4"
        new_t, est_t = [], []
        for k in range(args.packets):
            state = LinuxState()
            out = ipv4(mac, "fa:16:3e:ff:ff:ff", ip, "192.0.2.1", IPPROTO_TCP, 1000 + k, 80,
                       tcp_flags=0x02)
            t0 = time.perf_counter()
            engine.bridge(f"qbr{d}", f"tap{d}", out, state)
            t1 = time.perf_counter()
            back = ipv4("fa:16:3e:ff:ff:ff", mac, "192.0.2.1", ip, IPPROTO_TCP, 80, 1000 + k,
                        tcp_flags=0x12)
            res = engine.bridge(f"qbr{d}", f"qvb{d}", back, state)
            t2 = time.perf_counter()
            assert res.outputs, res.reason
            new_t.append(t1 - t0)
            est_t.append(t2 - t1)
        row = {"load": load, "new": statistics.median(new_t), "est": statistics.median(est_t)}
        if not base:
            base = row
        rules = text.count("\n-A ")
        rs = f"{restore * 1e3:11.1f}" if restore is not None else f"{'-':>11}"
        print(f"{n:>6} {rules:>7} {load * 1e3:9.1f} {rs} {row['new'] * 1e6:8.0f} "
              f"{row['est'] * 1e6:8.0f}   {row['load'] / base['load']:.1f} / "
              f"{row['new'] / base['new']:.1f} / {row['est'] / base['est']:.1f}")


if __name__ == "__main__":
    main()
