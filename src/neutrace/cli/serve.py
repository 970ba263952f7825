"""`neutrace serve` (layer 6): the web page of a cloud on a local port (docs/web.md).

Argument parsing only: the page and its data are ``neutrace.web``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neutrace.cli._common import EXIT_INPUT, Command, error, fail_on


def serve(
    cloud: Annotated[Path, typer.Argument(
        metavar="CLOUD", help="The cloud's topology file (YAML or JSON, docs/topology.md).")],
    host: Annotated[str, typer.Option(
        "--host", metavar="ADDRESS",
        help="The address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(
        "--port", metavar="PORT", help="The port to listen on (0: any free port).")] = 8080,
    verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                          help="Log every request.")] = False,
) -> None:
    """Serve a web page of the cloud: its hosts, tunnel mesh and segments, each host's diagram,
    flow tables and iptables, and a form that traces a packet and draws its walk."""
    from neutrace.app import session
    from neutrace.web.api import Api
    from neutrace.web.server import NeutraceServer

    with fail_on():
        walker = session.walker(cloud)
    try:
        server = NeutraceServer(Api(walker, cloud.stem if cloud.stem != "cloud"
                                    else cloud.parent.name), host, port, verbose)
    except OSError as exc:
        raise error(f"--host {host} --port {port}: cannot listen there: {exc.strerror} "
                    "(fix: choose another --port)", EXIT_INPUT) from None
    typer.echo(f"neutrace: {cloud} on {server.url} (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


COMMANDS = (Command("serve", serve, "A local web page of the cloud, with a trace form."),)
