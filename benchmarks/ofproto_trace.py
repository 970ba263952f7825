#!/usr/bin/env python3
"""Benchmark: neutrace's OpenFlow engine vs real Open vSwitch's ofproto/trace.

A Neutron-like br-int with the openvswitch firewall driver's tables (0, 60 transient, 71/72/73
egress, 81/82 ingress with conjunctions, 91/92/93/94 accept/drop/normal; reg5 = ofport, reg6 =
local VLAN / conntrack zone, ct_state, ct_mark) for N ports, at 1k, 10k and 100k flows.

Printed side by side, medians:
- trace: our `OpenFlowEngine.run` per packet vs `ofproto/trace` over ONE persistent unixctl
  connection (the round trip only, no parsing on our side), on the same flows and packets;
- load: our parse + compile of the flow file vs `ovs-ofctl --bundle add-flows` of the same file;
- memory: our bytes per loaded flow (tracemalloc, parsed + compiled) vs ovs-vswitchd's RSS growth
  per flow.

Run: ``python benchmarks/ofproto_trace.py [--sizes 1000,10000,100000] [--packets 200]``.
Needs the OVS binaries (a private sandbox is started and stopped; nothing system-wide is used).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

from neutrace.backends.ovs_load import OvsTracer, delete_bridges, load_bridges
from neutrace.backends.ovs_sandbox import OvsSandbox
from neutrace.dataplane import OvsBridge, OvsPort
from neutrace.engines.openflow import OpenFlowEngine, OpenFlowState
from neutrace.packet import IPPROTO_TCP, IPPROTO_UDP, Packet, arp_request, ipv4
from neutrace.syntax.microflow import Microflow, format_microflow
from neutrace.syntax.ofctl import parse_flows

BRIDGE = "br-int"
UPLINK = "int-uplink"
REAL_PORTS = 8  # ports that exist in the sandbox (the others are only referenced by flows)
RULES_PER_PORT = 6  # security-group rules (with remote-group conjunctions) per port


@dataclass(frozen=True)
class Vm:
    ofport: int
    tag: int
    mac: str
    ip: str
    name: str


def vms(n: int) -> list[Vm]:
    out = []
    for i in range(n):
        ofport = 10 + i
        out.append(Vm(ofport, 1 + i % 64, f"fa:16:3e:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:"
                      f"{i & 255:02x}", f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}",
                      f"tap{i:05d}-xx"))
    return out


def port_flows(vm: Vm, members: list[Vm], conj_base: int) -> list[str]:
    """The openvswitch firewall's flows for one port (after neutron/agent/linux/
    openvswitch_firewall/firewall.py, simplified where the exact shape does not matter)."""
    p, t, mac, ip = vm.ofport, vm.tag, vm.mac, vm.ip
    zone = "zone=NXM_NX_REG6[0..15]"
    fl = [
        # table 0 -> 60: mark the port and its network
        f"table=0, priority=100,in_port={p} actions=load:{p}->NXM_NX_REG5[],"
        f"load:{t}->NXM_NX_REG6[],resubmit(,71)",
        f"table=60, priority=90,dl_vlan={t},dl_dst={mac} actions=load:{p}->NXM_NX_REG5[],"
        f"load:{t}->NXM_NX_REG6[],strip_vlan,resubmit(,81)",
        # 71: egress base (anti-spoofing, DHCP, ND)
        f"table=71, priority=95,arp,reg5={p},in_port={p},dl_src={mac},arp_spa={ip} "
        "actions=resubmit(,94)",
        f"table=71, priority=95,icmp6,reg5={p},in_port={p},icmp_type=136 actions=resubmit(,94)",
        f"table=71, priority=80,udp,reg5={p},in_port={p},tp_src=68,tp_dst=67 "
        "actions=resubmit(,73)",
        f"table=71, priority=70,udp,reg5={p},in_port={p},tp_src=67,tp_dst=68 "
        "actions=resubmit(,93)",
        f"table=71, priority=65,ip,reg5={p},in_port={p},dl_src={mac},nw_src={ip} "
        f"actions=ct(table=72,{zone})",
        f"table=71, priority=10,reg5={p},in_port={p} actions=resubmit(,93)",
        # 72: egress rules (allow all egress, as the default security group does)
        f"table=72, priority=77,ct_state=+new-est,ip,reg5={p} actions=resubmit(,73)",
        f"table=72, priority=77,ct_state=+est-rel-rpl,ip,reg5={p} actions=resubmit(,73)",
        f"table=72, priority=50,ct_state=+est-rel+rpl,ct_zone={t},ct_mark=0,reg5={p} "
        "actions=resubmit(,91)",
        f"table=72, priority=40,ct_state=-est,reg5={p} actions=resubmit(,93)",
        # 73: accept or go to ingress of a local port
        f"table=73, priority=100,reg6={t},dl_dst={mac} actions=load:{p}->NXM_NX_REG5[],"
        "resubmit(,81)",
        f"table=73, priority=90,ct_state=+new-est,ip,reg5={p} actions=ct(commit,{zone}),"
        "resubmit(,91)",
        f"table=73, priority=80,reg5={p} actions=resubmit(,94)",
        # 81: ingress base
        f"table=81, priority=100,arp,reg5={p} actions=output:{p}",
        f"table=81, priority=95,icmp6,reg5={p},icmp_type=135 actions=output:{p}",
        f"table=81, priority=90,ct_state=-trk,ip,reg5={p} actions=ct(table=82,{zone})",
        f"table=81, priority=80,ct_state=+trk,reg5={p} actions=resubmit(,82)",
        # 82: ingress established / invalid
        f"table=82, priority=77,ct_state=+est-rel-rpl,ip,reg5={p} actions=output:{p}",
        f"table=82, priority=50,ct_state=+inv+trk,reg5={p} actions=resubmit(,93)",
        f"table=82, priority=40,ct_state=-est,reg5={p} actions=resubmit(,93)",
    ]
    # security-group rules: tcp/udp ports from the members of a remote group (conjunctions)
    cids = [conj_base + r for r in range(RULES_PER_PORT)]
    for r, cid in enumerate(cids):
        proto = "tcp" if r % 2 == 0 else "udp"
        fl.append(f"table=82, priority=71,conj_id={cid},ct_state=+new-est,ip,reg5={p} "
                  f"actions=load:{cid}->NXM_NX_REG7[],ct(commit,{zone}),output:{p}")
        fl.append(f"table=82, priority=71,ct_state=+new-est,{proto},reg5={p},"
                  f"tp_dst={22 + 1000 * r} actions=conjunction({cid},2/2)")
    # one flow per remote group member carries the first clause of every rule (as Neutron does)
    clause1 = ",".join(f"conjunction({cid},1/2)" for cid in cids)
    for m in members:
        fl.append(f"table=82, priority=71,ct_state=+new-est,ip,reg5={p},nw_src={m.ip} "
                  f"actions={clause1}")
    return fl


def common_flows() -> list[str]:
    return [
        "table=0, priority=0 actions=resubmit(,60)",
        "table=60, priority=3 actions=NORMAL",
        "table=71, priority=0 actions=drop",
        "table=72, priority=0 actions=drop",
        "table=73, priority=0 actions=drop",
        "table=81, priority=0 actions=drop",
        "table=82, priority=0 actions=drop",
        "table=91, priority=1 actions=resubmit(,94)",
        "table=92, priority=0 actions=drop",
        "table=93, priority=0 actions=drop",
        "table=94, priority=1 actions=NORMAL",
    ]


def build(n_flows: int) -> tuple[OvsBridge, str, list[Vm]]:
    """A br-int of about ``n_flows`` flows: (the bridge with its REAL_PORTS ports, the flow file
    text, the VMs)."""
    members_per_group = 8
    per_port = 22 + RULES_PER_PORT * 2 + members_per_group
    n_ports = max(REAL_PORTS, n_flows // per_port)
    all_vms = vms(n_ports)
    lines = common_flows()
    for i, vm in enumerate(all_vms):
        group = all_vms[(i // members_per_group) * members_per_group:][:members_per_group]
        lines += port_flows(vm, group, conj_base=10 * i + 1)
    text = "\n".join(f"cookie=0x{i + 1:x}, {ln}" for i, ln in enumerate(lines)) + "\n"
    ports = (OvsPort(UPLINK, 2),  # a trunk (patch-tun's role): ingress traffic comes in here
             *(OvsPort(v.name, v.ofport, tag=v.tag) for v in all_vms[:REAL_PORTS]))
    return OvsBridge(BRIDGE, ports=ports), text, all_vms


def packets(all_vms: list[Vm], n: int) -> list[tuple[str, Packet]]:
    out = []
    real = all_vms[:REAL_PORTS]
    for i in range(n):
        src = real[i % len(real)]
        dst = real[(i + 1) % len(real)]
        kind = i % 5
        if kind == 0:
            pkt = arp_request(src.mac, src.ip, dst.ip)
        elif kind == 1:
            pkt = ipv4(src.mac, dst.mac, src.ip, dst.ip, proto=IPPROTO_TCP, sport=40000 + i,
                       dport=22)
        elif kind == 2:
            pkt = ipv4(src.mac, dst.mac, src.ip, dst.ip, proto=IPPROTO_UDP, sport=40000 + i,
                       dport=1022)
        elif kind == 3:
            # ingress to a VM through table 60 -> 81 -> ct -> 82: a conjunction (remote group
            # member x tcp port) lets it in
            member = all_vms[(dst.ofport - 10) // 8 * 8]
            pkt = ipv4("fa:16:3e:77:77:77", dst.mac, member.ip, dst.ip, proto=IPPROTO_TCP,
                       sport=50000 + i, dport=22).with_vlan(dst.tag)
            out.append((UPLINK, pkt))
            continue
        else:
            pkt = ipv4(src.mac, "fa:16:3e:99:99:99", "10.200.0.1", dst.ip)  # spoofed: dropped
        out.append((src.name, pkt))
    return out


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def median_time(fn: object, items: list[tuple[str, Packet]]) -> float:
    times = []
    for port, pkt in items:
        t0 = time.perf_counter()
        fn(port, pkt)  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(sandbox: OvsSandbox, n_flows: int, n_packets: int) -> dict[str, float]:
    bridge, text, all_vms = build(n_flows)
    n = text.count("\n")
    # -- ours: load (parse + compile), memory -------------------------------------------------
    gc.collect()
    t0 = time.perf_counter()
    flows = parse_flows(text, source="bench")
    engine = OpenFlowEngine([OvsBridge(BRIDGE, ports=bridge.ports, flows=flows)])
    engine.compile_all()
    our_load = time.perf_counter() - t0
    del engine, flows
    gc.collect()
    tracemalloc.start()
    flows = parse_flows(text, source="bench")
    model = OvsBridge(BRIDGE, ports=bridge.ports, flows=flows)
    engine = OpenFlowEngine([model])
    engine.compile_all()
    our_bytes = tracemalloc.get_traced_memory()[0] / n
    tracemalloc.stop()
    # -- OVS: load with ovs-ofctl --bundle add-flows, RSS growth ------------------------------
    load_bridges(sandbox, [bridge])
    pid = sandbox.pids[-1]
    path = Path(tempfile.mktemp(suffix=".flows", dir=sandbox.dir))
    path.write_text(text)
    rss0 = rss_kib(pid)
    t0 = time.perf_counter()
    sandbox.ofctl("--bundle", "add-flows", BRIDGE, str(path))
    ovs_load = time.perf_counter() - t0
    time.sleep(0.2)
    ovs_bytes = (rss_kib(pid) - rss0) * 1024 / n
    path.unlink()
    # -- traces --------------------------------------------------------------------------------
    items = packets(all_vms, n_packets)
    with OvsTracer(sandbox) as tracer:
        ofports = {p.name: tracer.ofport(BRIDGE, p.name) for p in bridge.ports}
        flows_txt = {id(pkt): format_microflow(Microflow(str(ofports[port]), pkt))
                     for port, pkt in items}

        def theirs(port: str, pkt: Packet) -> None:
            tracer.trace_text(BRIDGE, flows_txt[id(pkt)])

        def ours(port: str, pkt: Packet) -> None:
            engine.run(BRIDGE, port, pkt, OpenFlowState())

        for port, pkt in items[:10]:  # warm both (table compilation, OVS caches)
            theirs(port, pkt)
            ours(port, pkt)
        ovs_trace = median_time(theirs, items)
        our_trace = median_time(ours, items)
    delete_bridges(sandbox, [BRIDGE])
    return dict(flows=n, our_trace=our_trace, ovs_trace=ovs_trace, our_load=our_load,
                ovs_load=ovs_load, our_bytes=our_bytes, ovs_bytes=ovs_bytes)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--packets", type=int, default=200)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rows = []
    with OvsSandbox() as sandbox:
        for size in sizes:
            r = bench(sandbox, size, args.packets)
            rows.append(r)
            print(f"... {int(r['flows'])} flows done", file=sys.stderr, flush=True)
    print(f"{'flows':>8} | {'trace ours':>11} {'trace OVS':>11} {'OVS/ours':>9} | "
          f"{'load ours':>10} {'load OVS':>10} {'OVS/ours':>9} | "
          f"{'B/flow ours':>11} {'B/flow OVS':>11} {'ours/OVS':>9}")
    for r in rows:
        print(f"{int(r['flows']):>8} | {r['our_trace'] * 1e6:>9.1f}us "
              f"{r['ovs_trace'] * 1e6:>9.1f}us {r['ovs_trace'] / r['our_trace']:>8.1f}x | "
              f"{r['our_load']:>9.3f}s {r['ovs_load']:>9.3f}s "
              f"{r['ovs_load'] / r['our_load']:>8.2f}x | "
              f"{r['our_bytes']:>11.0f} {r['ovs_bytes']:>11.0f} "
              f"{r['our_bytes'] / max(r['ovs_bytes'], 1):>8.2f}x")
    print("targets: trace >= 20x faster at every size; load of 100k no slower than "
          "ovs-ofctl --bundle add-flows (OVS/ours >= 1); <= 600 bytes per flow")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
