#!/usr/bin/env python3
"""Benchmark: `neutrace up` of a cloud on the real backend (root), median over runs.

Printed: the wall time of ``up`` (topology + agents excluded: the state is programmed once) and
of ``down``; per host, the resident memory (RSS, from /proc/<pid>/status) of its ovsdb-server
and ovs-vswitchd once up, and the total per host. Issue 9's targets for the seed: up under 60 s,
under 100 MB per host.

Run: ``sudo python benchmarks/real_up.py [--cloud examples/seed/cloud.yaml] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from neutrace.app.session import cloud_state
from neutrace.backends.real import cloud as real
from neutrace.backends.real import record

ROOT = Path(__file__).resolve().parents[1]


def rss_kib(pid: int) -> int:
    """The resident set size of ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    """Run the benchmark and print its table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cloud", default=str(ROOT / "examples" / "seed" / "cloud.yaml"))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    state = cloud_state(args.cloud)
    name = f"bench{os.getpid()}"
    ups, downs = [], []
    per_host: dict[str, list[int]] = {}
    for _ in range(args.runs):
        t0 = time.perf_counter()
        rec = real.up(state, name)
        ups.append(time.perf_counter() - t0)
        time.sleep(1.0)  # let the daemons settle
        rec = record.read(name) or rec
        for h in rec.hosts:
            kib = sum(rss_kib(d.pid) for d in rec.daemons if d.marker == h.dir)
            per_host.setdefault(h.name, []).append(kib)
        t0 = time.perf_counter()
        real.down(name)
        downs.append(time.perf_counter() - t0)
    print(f"cloud {args.cloud}: {len(state.hosts)} hosts, {args.runs} runs")
    print(f"up   median {statistics.median(ups):6.2f} s   (min {min(ups):.2f}, max {max(ups):.2f})")
    print(f"down median {statistics.median(downs):6.2f} s")
    for host, kibs in per_host.items():
        print(f"  {host:20s} ovsdb-server + ovs-vswitchd RSS median "
              f"{statistics.median(kibs) / 1024:6.1f} MiB")


if __name__ == "__main__":
    main()
