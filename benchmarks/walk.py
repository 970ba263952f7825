#!/usr/bin/env python3
"""Benchmark: neutrace's whole seed walk vs ONE real single-bridge ofproto/trace.

Our side: the seed's test-02 → 203.0.113.10 walk, cold (a fresh state every time, so every flood
branch is walked: three hosts, four OVS bridges per copy, Linux bridge netfilter, the router's
NAT, the VXLAN underlay, the outside segment), on a `Walker` built once.

Their side: real ovs-vswitchd (a private sandbox, --enable-dummy=override) with test-cmpt-02's
bridges loaded, and one ``ofproto/trace`` of the same first packet entering br-int from test-02's
qvo port — a single bridge of a single host — (a) over one persistent unixctl connection (the
fastest way to ask ovs-vswitchd) and (b) with ``ovs-appctl`` as an operator runs it.

Prints medians and the ratios; the target is that our whole walk takes less time than that one
call. Run: ``python benchmarks/walk.py [--repeat 200]``. Needs the OVS binaries.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from collections.abc import Callable

from neutrace.app import session
from neutrace.backends.ovs_load import OvsTracer, delete_bridges, load_bridges
from neutrace.backends.ovs_sandbox import OvsSandbox
from neutrace.sim.walk import SimState
from neutrace.syntax.microflow import Microflow, format_microflow

HOST = "test-cmpt-02"


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm caches once
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()

    t0 = time.perf_counter()
    w = session.walker(session.seed_path())
    build = time.perf_counter() - t0

    def walk() -> object:
        conv = session.trace(w, "test-02", "203.0.113.10", state=SimState.cold())
        return conv.request

    trace = walk()
    copies = len(trace.dispositions())  # type: ignore[attr-defined]
    ours = median_seconds(walk, args.repeat)

    first = trace.root.hops  # type: ignore[attr-defined]
    brint = next(h for h in first if h.element == "br-int")
    host = w.cloud.host(HOST)
    assert host is not None
    with OvsSandbox() as sandbox:
        load_bridges(sandbox, host.ovs_bridges)
        try:
            with OvsTracer(sandbox) as tracer:
                ofport = tracer.ofport("br-int", brint.in_port)
                flow = format_microflow(Microflow(str(ofport), brint.packet, ()))
                persistent = median_seconds(lambda: tracer.trace_text("br-int", flow),
                                            args.repeat)
                argv = ["ovs-appctl", "-t", str(sandbox.vswitchd_ctl), "ofproto/trace",
                        "br-int", flow]
                appctl = median_seconds(
                    lambda: subprocess.run(argv, capture_output=True, check=True,
                                           env=sandbox.env),
                    max(10, args.repeat // 10))
        finally:
            delete_bridges(sandbox, [b.name for b in host.ovs_bridges])

    print(f"seed walk of test-02, cold: {copies} copies; walker built in {build * 1e3:.1f} ms")
    print(f"{'what':<58}{'median':>12}")
    rows = (("neutrace: the whole walk (every host, every copy)", ours),
            ("OVS: one ofproto/trace of br-int, persistent unixctl", persistent),
            ("OVS: one ofproto/trace of br-int, ovs-appctl", appctl))
    for label, seconds in rows:
        print(f"{label:<58}{seconds * 1e6:>10.0f}us")
    print(f"ratio whole walk / one persistent ofproto/trace: {ours / persistent:.2f} "
          f"({'met' if ours < persistent else 'not met'}: target < 1)")
    print(f"ratio whole walk / one ovs-appctl ofproto/trace: {ours / appctl:.2f}")


if __name__ == "__main__":
    main()
