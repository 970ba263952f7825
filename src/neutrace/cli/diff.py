"""`neutrace diff` and `neutrace import-openstack` (layer 6): what Neutron should have programmed
against what the captured hosts hold, and an export of Neutron objects as a topology file. diff
exits 0 when they agree, `EXIT_DIFFERENT` (1) when any host differs, 2 for bad input (README:
Exit statuses). The use cases are ``neutrace.app.diff``; the words ``neutrace.render.drift`` and
``neutrace.render.openstack``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neutrace.cli._common import EXIT_DIFFERENT, Command, Format, fail_on
from neutrace.errors import CommandLineError


def diff(
    expected: Annotated[list[Path], typer.Argument(
        metavar="EXPECTED...", help="What Neutron should have programmed: a topology file "
        "(docs/topology.md), or the JSON of the cloud's Neutron objects (docs/importing.md).")],
    sos: Annotated[list[Path], typer.Option(
        "--sos", metavar="CAPTURE", help="A host's capture (sosreport, neutrace collect folder "
        "or archive) or a folder of them; repeat for each host.")],
    fmt: Annotated[Format, typer.Option(
        "--format", help="text or json.")] = Format.text,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Also show the import's notes, each host's local VLANs and "
        "what differs legitimately (tolerated).")] = False,
) -> None:
    """Compare what Neutron's agents would program (EXPECTED) with what the hosts hold
    (--sos): missing, extra and changed flows, ports, tags, tunnels, iptables rules,
    namespaces, addresses and routes, each explained in Neutron's terms."""
    from neutrace.app import diff as app_diff
    from neutrace.render.drift import drift_json, drift_text

    fmt = fmt.only(Format.text, Format.json)
    with fail_on():
        if not sos:
            raise CommandLineError("--sos", "", "nothing to compare with",
                                   "give each host's capture with --sos")
        result = app_diff.diff(expected, sos)
    from neutrace.render.openstack import assumption_text

    for d in result.diagnostics:
        if verbose or d.level == "warning":
            typer.echo(str(d), err=True)
    for a in result.assumptions:
        typer.echo(f"warning: {assumption_text(a)}", err=True)
    if fmt is Format.json:
        typer.echo(drift_json(result.drift), nl=False)
    else:
        typer.echo(drift_text(result.drift, verbose), nl=False)
    raise typer.Exit(EXIT_DIFFERENT if result.drift.differs else 0)


def import_openstack(
    files: Annotated[list[Path], typer.Argument(
        metavar="FILES...", help="JSON of 'openstack network/subnet/port/router/floating ip/"
        "security group/security group rule list --long -f json' (or show -f json), or the "
        "Neutron API's bodies ({\"ports\": [...]}...), in any mix.")],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", metavar="FILE", help="The topology file to write (default: "
        "standard output).")] = None,
    name: Annotated[str | None, typer.Option(
        "--name", help="The cloud's name (default: the first file's stem).")] = None,
    tunnel_ip: Annotated[list[str] | None, typer.Option(
        "--tunnel-ip", metavar="HOST=IP", help="A host's tunnel IP (the OVS agent's "
        "local_ip); repeat per host.")] = None,
    management_ip: Annotated[list[str] | None, typer.Option(
        "--management-ip", metavar="HOST=IP", help="A host's management IP.")] = None,
    bridge_mapping: Annotated[list[str] | None, typer.Option(
        "--bridge-mapping", metavar="[HOST:]PHYSNET:BRIDGE", help="A bridge mapping of a "
        "host, or of every host without one of its own.")] = None,
    nic: Annotated[list[str] | None, typer.Option(
        "--nic", metavar="HOST:NIC:BRIDGE", help="A physical NIC on a mapped bridge.")] = None,
    firewall_driver: Annotated[str | None, typer.Option(
        "--firewall-driver", metavar="DRIVER", help="iptables_hybrid, openvswitch or noop "
        "(every host).")] = None,
    l2_population: Annotated[bool | None, typer.Option(
        "--l2-population/--no-l2-population", help="The OVS agent's l2_population.")] = None,
    arp_responder: Annotated[bool | None, typer.Option(
        "--arp-responder/--no-arp-responder", help="The OVS agent's arp_responder.")] = None,
) -> None:
    """Turn an export of a cloud's Neutron objects into a neutrace topology file: hosts from
    the ports' binding:host_id; what the export lacks (tunnel IPs, bridge mappings, NICs)
    from the options, else a placeholder, each said as a warning and in the file's header."""
    from neutrace.app import diff as app_diff
    from neutrace.render.openstack import assumption_text, header

    with fail_on():
        hints = app_diff.option_hints(tunnel_ip or (), management_ip or (),
                                      bridge_mapping or (), nic or (), firewall_driver,
                                      l2_population, arp_responder)
        imp = app_diff.import_openstack(files, hints, name)
    for a in imp.assumptions:
        typer.echo(f"warning: {assumption_text(a)}", err=True)
    text = header([str(f) for f in files], imp.assumptions) + app_diff.topology_yaml(imp)
    if output is None:
        typer.echo(text, nl=False)
        return
    with fail_on():
        try:
            output.write_text(text)
        except OSError as exc:
            raise CommandLineError("-o", str(output), f"cannot write it ({exc.strerror or exc})",
                      "give a writable file") from None
    typer.echo(str(output))


COMMANDS = (Command("diff", diff, "Compare what Neutron should have programmed with what "
                    "captured hosts hold."),
            Command("import-openstack", import_openstack, "Turn an export of Neutron objects "
                    "into a topology file."))
