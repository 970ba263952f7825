"""`neutrace serve`: a port it cannot listen on is one error line, not a traceback."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from neutrace.cli import app
from tests.support.paths import SEED_YAML


def test_a_port_in_use_is_an_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        res = CliRunner().invoke(app, ["serve", str(SEED_YAML), "--port", str(port)])
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: --host 127.0.0.1 --port {port}: cannot listen there")


def test_a_bad_cloud_is_an_error() -> None:
    res = CliRunner().invoke(app, ["serve", "nosuch.yaml"])
    assert res.exit_code == 2 and res.stderr.startswith("error:")
