"""`neutrace up` / `down` / `status` / `exec` / `ovs` (layer 6): the real backend's commands.

Argument parsing and output only: the cloud is programmed by ``neutrace.app.session`` (topology +
agents) and built by ``neutrace.backends.real``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from neutrace.cli._common import Command, fail_on
from neutrace.errors import CommandLineError

NAME_HELP = "The run's name (default: the cloud's name)."
EXIT_INTERRUPTED = 130


def _command(cmd: list[str]) -> list[str]:
    """The command without the ``--`` that separates it from neutrace's own arguments."""
    cmd = cmd[1:] if cmd[:1] == ["--"] else cmd
    if not cmd:
        raise CommandLineError("CMD", "", "no command given", "give it after --")
    return cmd


def _run_name(cloud: str) -> str:
    """A run name from CLOUD: a topology file (its cloud's name) or a run name."""
    path = Path(cloud)
    if path.is_file():
        from neutrace.app.session import cloud_state
        from neutrace.backends.real.cloud import cloud_name

        return cloud_name(cloud_state(path)).lower()
    return cloud


def up(
    cloud: Annotated[Path, typer.Argument(help="The cloud topology file (YAML/JSON).")],
    name: Annotated[str | None, typer.Option(help=NAME_HELP)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Build the cloud on this machine: every host a network namespace with its own Open vSwitch
    (userspace datapath), its bridges, flows, Linux bridges, iptables and namespaces; VMs,
    segments, the underlay and the outside as namespaces too. Needs root."""
    from neutrace.app.session import cloud_state
    from neutrace.backends.real import up as real_up

    try:
        with fail_on():
            state = cloud_state(cloud)
            rec = real_up(state, name, progress=(lambda _: None) if quiet else typer.echo)
    except KeyboardInterrupt:
        typer.echo("interrupted: everything the build made was removed", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    typer.echo(f"run {rec.run!r} is up ({len(rec.namespaces)} namespaces {rec.prefix}*); "
               f"`neutrace exec VM -- CMD`, `neutrace ovs HOST -- CMD`, "
               f"`neutrace down {rec.run}`")


def down(
    cloud: Annotated[str, typer.Argument(help="The cloud topology file, or a run name.")],
) -> None:
    """Remove everything a run built (also what a killed `up` left)."""
    from neutrace.backends.real import down as real_down

    with fail_on():
        removed = real_down(_run_name(cloud), progress=typer.echo)
    if not removed:
        typer.echo(f"nothing to remove: no run {_run_name(cloud)!r}")


def status(
    name: Annotated[str | None, typer.Argument(help="A run name (default: every run).")] = None,
) -> None:
    """What is up: each run, its hosts (OVS daemons alive?), namespaces and VMs."""
    from neutrace.backends.real import status as real_status

    with fail_on():
        runs = real_status(name)
    if not runs:
        typer.echo("no run is up")
        return
    for st in runs:
        typer.echo(f"{st.run}: {st.status} (cloud {st.cloud}, namespaces {st.prefix}*: "
                   f"{st.namespaces_present}/{st.namespaces})")
        for host, netns, ok in st.hosts:
            typer.echo(f"  host {host}: netns {netns}, ovs {'running' if ok else 'NOT running'}")
        for vm, host, netns in st.vms:
            typer.echo(f"  vm {vm} on {host}: netns {netns}")
        for p in st.problems:
            typer.echo(f"  problem: {p}")


def exec_cmd(
    target: Annotated[str, typer.Argument(
        help="A VM, an outside host, a host, or HOST:NAMESPACE (qrouter-..., qdhcp-...).")],
    cmd: Annotated[list[str], typer.Argument(help="The command, after --.")],
    name: Annotated[str | None, typer.Option(help=NAME_HELP)] = None,
) -> None:
    """Run a command inside a VM (or any namespace) of a cloud that is up: exec test-02 -- ping
    -c1 203.0.113.10."""
    from neutrace.backends.real import exec_argv

    with fail_on():
        argv = exec_argv(target, _command(cmd), name)
    os.execvp(argv[0], argv)


def ovs_cmd(
    host: Annotated[str, typer.Argument(help="A host of a cloud that is up.")],
    cmd: Annotated[list[str], typer.Argument(help="ovs-vsctl/ovs-ofctl/ovs-appctl ..., after --.")],
    name: Annotated[str | None, typer.Option(help=NAME_HELP)] = None,
) -> None:
    """Run an OVS tool against a host's own switch (inside its namespace, with its OVS_RUNDIR):
    ovs test-ctrl-01 -- ovs-ofctl -O OpenFlow13 dump-flows br-tun."""
    from neutrace.backends.real import host_env

    with fail_on():
        cmd = _command(cmd)
        env = host_env(host, name)
    argv = env.argv(cmd)
    os.execvpe(argv[0], argv, env.env)


COMMANDS = (Command("up", up, "Build the cloud on this machine, in namespaces."),
            Command("down", down, "Remove everything a run built."),
            Command("status", status, "What is up: each run and its hosts."),
            Command("exec", exec_cmd, "Run a command inside a VM or namespace of a run."),
            Command("ovs", ovs_cmd, "Run an OVS tool against a host's own switch."))
