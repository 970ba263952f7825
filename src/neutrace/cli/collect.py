"""`neutrace collect` (layer 6): capture this host, read-only, in a sosreport's layout.

Argument parsing and output only: what runs and what is written is
``neutrace.importers.collect``.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Annotated

import typer

from neutrace.cli._common import Command, fail_on


def collect(
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", metavar="FOLDER", help="The folder to write (new or empty); default "
        "./neutrace-collect-HOST-TIME.")] = None,
    tar: Annotated[bool, typer.Option("--tar", help="Also pack it as FOLDER.tar.xz.")] = False,
    ovs_rundir: Annotated[str | None, typer.Option(
        "--ovs-rundir", metavar="DIR",
        help="OVS_RUNDIR of the Open vSwitch to read (default: $OVS_RUNDIR, else the "
             "system's).")] = None,
    ovs_db: Annotated[str | None, typer.Option(
        "--ovs-db", metavar="TARGET",
        help="ovs-vsctl --db target (default unix:RUNDIR/db.sock when it exists).")] = None,
    ovs_ctl: Annotated[str | None, typer.Option(
        "--ovs-ctl", metavar="TARGET",
        help="ovs-appctl -t target (default RUNDIR/ovs-vswitchd.ctl when it exists).")] = None,
    netns_prefix: Annotated[str, typer.Option(
        "--netns-prefix", metavar="PREFIX",
        help="Only namespaces whose name starts with this, recorded without it.")] = "",
    hostname: Annotated[str | None, typer.Option(
        "--hostname", metavar="NAME",
        help="The host name to record (default: this host's).")] = None,
    sysroot: Annotated[str, typer.Option(
        "--sysroot", metavar="DIR",
        help="Where the host's files are (/etc/neutron, /run/libvirt and the rest).")] = "/",
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", help="Seconds allowed per command.")] = 30.0,
) -> None:
    """Capture this host's data plane (Open vSwitch, namespaces, routes, iptables, conntrack,
    libvirt domains) with read-only commands, in a sosreport's layout, plus a manifest."""
    from neutrace.importers.collect import CollectOptions
    from neutrace.importers.collect import collect as run_collect

    host = hostname or socket.gethostname()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = output or Path(f"neutrace-collect-{host}-{stamp}")
    opts = CollectOptions(output=out, ovs_rundir=ovs_rundir or os.environ.get("OVS_RUNDIR"),
                          ovs_db=ovs_db, ovs_ctl=ovs_ctl, netns_prefix=netns_prefix,
                          hostname=hostname, sysroot=sysroot, timeout=timeout, tar=tar)
    with fail_on():
        written = run_collect(opts)
    typer.echo(str(written))


COMMANDS = (Command("collect", collect, "Capture this host's data plane into a folder."),)
