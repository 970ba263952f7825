#!/usr/bin/env python3
"""Benchmark: clouds of 500 to 20,000 VM ports, loaded, programmed and walked.

The clouds (``cloud_data``): 20 VM ports per compute node (one port per VM), 200 VXLAN networks
(a /16 each) behind 50 routers (four networks each, a gateway on the flat external network), two
network nodes (the routers alternate between them; a DHCP port of every network on each), a
floating IP on every tenth VM, one security group per 50 VMs (VM v is in group v mod groups, so a
group's members are spread over the cloud) whose ingress rules allow ICMP and tcp/22 from the
group itself (remote-group rules: ipsets / conjunctions of every member) and tcp/80 from anywhere.
Groups of a fixed size, as tenants of a real cloud have: with a fixed number of groups, every host
would hold members in proportion to the whole cloud and the programmed state itself would grow as
N² (so would Neutron's). Compute nodes alternate between the ``iptables_hybrid`` and
``openvswitch`` firewall drivers; l2_population and the ARP responder are on (as a cloud of this
size runs).

Each size is measured in its own subprocess (so peak RSS is that size's), phases in CPU seconds
(``time.process_time``):

- **load**: ``topology.load`` of the cloud written as JSON;
- **program**: ``agents.program`` (every host's agents);
- **walker**: ``Walker(state)``;
- **trace cold** / **trace warm**: a VM on the first compute node pings a VM of the same network on
  the last compute node (another host, the other firewall driver), from a cold state and then again
  on the state the first trace left;
- **first trace**: load + walker + the cold trace, from a file, as ``neutrace trace`` pays it
  (programming included);
- **show --host**: the whole ``neutrace show CLOUD --host <last compute node>`` command in-process
  (load, program, render);
- **peak RSS** of the child (``ru_maxrss``).

Printed: per-phase medians over ``--repeat`` children, the growth exponent of each phase between
consecutive sizes (log(t2/t1)/log(n2/n1); 1 is linear) and from 2,000 to the largest size, and the
ratio of each median to a reference run's (a JSON this script writes with ``--write-reference``
and reads with ``--reference``, default ``benchmarks/scale-reference.json`` when it exists).

Run: ``python benchmarks/scale.py [--sizes 500,2000,5000,20000] [--repeat 1] [--timeout 900]``;
a quick run: ``--sizes 500,2000``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from neutrace.builder import CloudBuilder, port, rule

PORTS_PER_NODE = 20
NETWORKS = 200
ROUTERS = 50
NETWORK_NODES = 2
SG_MEMBERS = 50
FIP_EVERY = 10
DRIVERS = ("iptables_hybrid", "openvswitch")
PHASES = ("load", "program", "walker", "trace_cold", "trace_warm", "first_trace", "show_host",
          "peak_rss_mib")
DEFAULT_REFERENCE = Path(__file__).with_name("scale-reference.json")


def _ip(base: int, i: int) -> str:
    """The i-th address (from .1) of the /16 ``base``.0.0 (base = first two octets as an int)."""
    i += 1
    return f"{base >> 8}.{base & 255}.{i >> 8}.{i & 255}"


def cloud_data(n_ports: int) -> dict[str, Any]:
    """The topology (a topology file's data) of a cloud with ``n_ports`` VM ports."""
    nodes = max(2, math.ceil(n_ports / PORTS_PER_NODE))
    b = CloudBuilder(f"scale-{n_ports}")
    mgmt, tun = (172 << 8) | 16, (172 << 8) | 17
    for h in range(NETWORK_NODES):
        b.host(f"net-{h:02d}", _ip(mgmt, h), _ip(tun, h), roles=["network"],
               bridge_mappings={"external": "br-ex"}, l2_population=True, arp_responder=True)
    for h in range(nodes):
        b.host(f"cmp-{h:04d}", _ip(mgmt, 100 + h), _ip(tun, 100 + h),
               firewall_driver=DRIVERS[h % 2], l2_population=True, arp_responder=True)
    b.network("public", network_type="flat", physical_network="external", router_external=True)
    b.subnet("public", "public-sub", "100.64.0.0/16", enable_dhcp=True)
    for n in range(NETWORKS):
        b.network(f"net{n}", segmentation_id=1000 + n)
        b.subnet(f"net{n}", f"sub{n}", f"10.{n}.0.0/16")
    per_router = NETWORKS // ROUTERS
    for r in range(ROUTERS):
        b.router(f"r{r}", host=f"net-{r % NETWORK_NODES:02d}", external_gateway="public",
                 interfaces=[f"sub{r * per_router + i}" for i in range(per_router)])
    groups = security_groups(n_ports)
    for g in range(groups):
        b.security_group(f"sg{g}", rule("ingress", "icmp", remote_group=f"sg{g}"),
                         rule("ingress", "tcp", 22, remote_group=f"sg{g}"),
                         rule("ingress", "tcp", 80, remote_ip_prefix="0.0.0.0/0"))
    for v in range(n_ports):
        # VM v sits on node v // 20 and network v % 200: a network spans many nodes
        b.vm(f"vm{v}", f"cmp-{v // PORTS_PER_NODE:04d}",
             port(f"net{v % NETWORKS}", security_groups=[f"sg{v % groups}"]))
        if v % FIP_EVERY == 0:
            b.floating_ip(f"vm{v}:0")
    return b.to_dict()


def security_groups(n_ports: int) -> int:
    return max(1, n_ports // SG_MEMBERS)


def trace_pair(n_ports: int) -> tuple[str, str, str]:
    """(source VM, destination VM, the last compute node): same network and security group,
    first and last compute node."""
    nodes = max(2, math.ceil(n_ports / PORTS_PER_NODE))
    groups = security_groups(n_ports)
    step = NETWORKS * groups // math.gcd(NETWORKS, groups)
    dst = (n_ports - 1) // step * step
    return "vm0", f"vm{dst}", f"cmp-{nodes - 1:04d}"


def child(n_ports: int) -> dict[str, float]:
    """Measure one size in this process."""
    from neutrace import topology
    from neutrace.agents import program
    from neutrace.app import session
    from neutrace.cli import app
    from neutrace.sim.walk import SimState, Walker

    src, dst, last = trace_pair(n_ports)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cloud.json"
        path.write_text(json.dumps(cloud_data(n_ports)))
        out: dict[str, float] = {}
        t = time.process_time()
        cloud = topology.load(path)
        out["load"], t = time.process_time() - t, time.process_time()
        state = program(cloud)
        out["program"], t = time.process_time() - t, time.process_time()
        w = Walker(state)
        out["walker"], t = time.process_time() - t, time.process_time()
        sim = SimState.cold()
        conv = session.trace(w, src, dst, state=sim)
        out["trace_cold"], t = time.process_time() - t, time.process_time()
        session.trace(w, src, dst, state=sim)
        out["trace_warm"] = time.process_time() - t
        disposition = conv.request.dispositions()
        del w, state, cloud, conv
        t = time.process_time()
        session.trace(session.walker(path), src, dst)
        out["first_trace"] = time.process_time() - t

        def show() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    app(["show", str(path), "--host", last], standalone_mode=False)
                except SystemExit as exc:
                    if exc.code:
                        raise
        t = time.process_time()
        show()
        out["show_host"] = time.process_time() - t
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kinds = sorted({str(d.kind) for d in disposition})
    print(f"# {n_ports}: {src} -> {dst}: {len(disposition)} copies, {kinds}", file=sys.stderr)
    return out


def run_size(n_ports: int, timeout: float) -> dict[str, float] | None:
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", str(n_ports)],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        print(f"# {n_ports}: timed out after {timeout:.0f} s", file=sys.stderr)
        return None
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        print(f"# {n_ports}: child failed (status {proc.returncode})", file=sys.stderr)
        return None
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def exponent(n1: int, t1: float, n2: int, t2: float) -> float | None:
    if t1 <= 0 or t2 <= 0:
        return None
    return math.log(t2 / t1) / math.log(n2 / n1)


def _fmt(value: float | None, spec: str = "8.3f") -> str:
    return f"{'-':>{spec.split('.')[0]}}" if value is None else format(value, spec)


def report(medians: dict[int, dict[str, float]], reference: dict[int, dict[str, float]]) -> None:
    sizes = sorted(medians)
    print("medians (CPU seconds; peak RSS in MiB)")
    print(f"{'ports':>6} " + " ".join(f"{p:>12}" for p in PHASES))
    for n in sizes:
        print(f"{n:>6} " + " ".join(_fmt(medians[n].get(p), "12.3f") for p in PHASES))
    pairs = list(zip(sizes, sizes[1:], strict=False))
    if 2000 in medians and sizes[-1] > 2000 and (2000, sizes[-1]) not in pairs:
        pairs.append((2000, sizes[-1]))
    if pairs:
        print("\ngrowth exponents (1 = linear)")
        print(f"{'sizes':>13} " + " ".join(f"{p:>12}" for p in PHASES))
        for a, b in pairs:
            print(f"{f'{a}->{b}':>13} " + " ".join(
                _fmt(exponent(a, medians[a][p], b, medians[b][p]), "12.2f") for p in PHASES))
    common = [n for n in sizes if n in reference]
    if common:
        print("\nratio to the reference run (reference / this run; > 1 = faster now)")
        print(f"{'ports':>6} " + " ".join(f"{p:>12}" for p in PHASES))
        for n in common:
            cells = []
            for p in PHASES:
                ours, ref = medians[n].get(p), reference[n].get(p)
                cells.append(_fmt(ref / ours if ours and ref else None, "12.2f"))
            print(f"{n:>6} " + " ".join(cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", default="500,2000,5000,20000")
    ap.add_argument("--repeat", type=int, default=1, help="children per size (medians)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per child")
    ap.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    ap.add_argument("--write-reference", action="store_true",
                    help="write this run as the reference (sizes merged into the file)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child)))
        return
    medians: dict[int, dict[str, float]] = {}
    for n in (int(s) for s in args.sizes.split(",")):
        runs = [r for r in (run_size(n, args.timeout) for _ in range(args.repeat)) if r]
        if runs:
            medians[n] = {p: statistics.median(r[p] for r in runs) for p in runs[0]}
            print(f"# {n}: {json.dumps(medians[n])}", file=sys.stderr, flush=True)
    reference: dict[int, dict[str, float]] = {}
    if args.reference.exists():
        reference = {int(k): v for k, v in json.loads(args.reference.read_text()).items()}
    report(medians, {} if args.write_reference else reference)
    if args.write_reference:
        merged = {**reference, **medians}
        args.reference.write_text(json.dumps({str(k): merged[k] for k in sorted(merged)},
                                             indent=1) + "\n")
        print(f"\nreference written to {args.reference}")


if __name__ == "__main__":
    main()
