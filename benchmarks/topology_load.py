#!/usr/bin/env python3
"""Benchmark: loading a topology of N VMs (``neutrace.topology.loads`` of YAML text).

Clouds of 20 compute hosts, 10 VXLAN networks (a /16 each) behind one router, N VMs with one
port each (addresses allocated) and a floating IP for every tenth VM. Printed per size: the median
time to load, the time per VM, and the ratio of the per-VM time to the smallest size's (about 1
means the loader scales linearly).

Run: ``python benchmarks/topology_load.py [--sizes 100,1000,3000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import yaml

from neutrace import topology
from neutrace.builder import CloudBuilder


def cloud_text(n_vms: int) -> str:
    b = CloudBuilder("bench").host("net-01", "10.0.0.1", "10.1.0.1", roles=["network"],
                                   bridge_mappings={"external": "br-ex"})
    for h in range(20):
        b.host(f"cmp-{h}", f"10.0.1.{h + 1}", f"10.1.1.{h + 1}")
    b.network("public", network_type="flat", physical_network="external", router_external=True)
    b.subnet("public", "public-sub", "172.24.0.0/16", enable_dhcp=False)
    for n in range(10):
        b.network(f"net{n}").subnet(f"net{n}", f"sub{n}", f"10.{50 + n}.0.0/16")
    b.router("r1", external_gateway="public", interfaces=[f"sub{n}" for n in range(10)])
    for v in range(n_vms):
        b.vm(f"vm{v}", f"cmp-{v % 20}", f"net{v % 10}")
        if v % 10 == 0:
            b.floating_ip(f"vm{v}:0")
    return yaml.safe_dump(b.to_dict(), sort_keys=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,3000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base = None
    print(f"{'VMs':>6} {'load s':>8} {'ms/VM':>7} {'ratio':>6}")
    for size in (int(s) for s in args.sizes.split(",")):
        text = cloud_text(size)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            topology.loads(text)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        per_vm = median / size * 1000
        base = base or per_vm
        print(f"{size:>6} {median:>8.3f} {per_vm:>7.3f} {per_vm / base:>6.2f}")


if __name__ == "__main__":
    main()
