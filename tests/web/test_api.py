"""The web page's data and server (neutrace.web, no browser): the cloud summary, a host's
tables, a walk as the same JSON ``neutrace trace --format json`` prints, the routes, the
errors of the trace form, and that every asset is served from the package."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import cache
from importlib import resources

import pytest

from neutrace.app import session
from neutrace.errors import CommandLineError
from neutrace.render.trace_json import traces_to_json
from neutrace.sim.walk import Walker
from neutrace.web.api import Api, TraceRequest
from neutrace.web.server import NeutraceServer, running
from tests.conftest import require
from tests.support.markup_cloud import COMMENT, HOST, markup_cloud
from tests.support.paths import SEED_YAML


@cache
def seed_api() -> Api:
    """The seed's page data (one walker for the module)."""
    return Api(session.walker(SEED_YAML), "seed")


@pytest.fixture(scope="module")
def server() -> Iterator[NeutraceServer]:
    require(shutil.which("dot") is not None, "Graphviz (apt-get install graphviz)")
    with running(seed_api()) as srv:
        yield srv


def get(srv: NeutraceServer, path: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(srv.url.rstrip("/") + path, timeout=60) as res:
            return res.status, dict(res.headers), res.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_summary_names_hosts_segments_and_starts() -> None:
    s = seed_api().summary()
    assert [h["name"] for h in s["hosts"]] == ["test-ctrl-01", "test-cmpt-01", "test-cmpt-02"]
    assert {"test-01", "test-02", "internet-host"} <= set(s["starts"])
    assert "203.0.113.10" in s["addresses"]
    assert {seg["name"] for seg in s["segments"]} == {"external", "tunnel"}


def test_host_tables_are_what_ovs_ofctl_and_iptables_save_print() -> None:
    api = seed_api()
    host = api.host("test-cmpt-02")
    br_int = next(b for b in host["bridges"] if b["name"] == "br-int")
    cloud = api.cloud.host("test-cmpt-02")
    assert cloud is not None
    from neutrace.render.show import dump_flows
    dumped = dump_flows(next(b for b in cloud.ovs_bridges if b.name == "br-int"))
    assert [f" {f['text']}" for f in br_int["flows"]] == dumped.splitlines()
    assert {p["name"]: p["ofport"] for p in br_int["ports"]}["qvo1b17c0cc-9f"] == 4
    root = next(n for n in host["namespaces"] if n["name"] == "<root>")
    assert root["iptables"][0]["text"][:1] in ("#", "*")
    assert {line["table"] for line in root["iptables"]} >= {"raw", "filter"}
    with pytest.raises(CommandLineError):
        api.host("nosuch")


def test_trace_payload_is_the_trace_json_and_the_crossed_hosts_diagrams() -> None:
    require(shutil.which("dot") is not None, "Graphviz (apt-get install graphviz)")
    api = seed_api()
    data = api.trace(TraceRequest("test-02", "203.0.113.10"))
    w = session.walker(SEED_YAML)
    conv = session.trace(w, "test-02", "203.0.113.10")
    assert data["traces"] == json.loads(traces_to_json({"request": conv.request}))
    assert set(data["diagrams"]) == {"test-ctrl-01", "test-cmpt-01", "test-cmpt-02"}
    assert "qr&#45;466214fa&#45;3d" in data["diagrams"]["test-ctrl-01"]
    assert "on&#45;path" in data["overview"]


@pytest.mark.parametrize(("query", "option"), [
    ({"to": ["1.2.3.4"]}, "from"),
    ({"from": ["test-02"]}, "to"),
    ({"from": ["test-02"], "to": ["1.2.3.4"], "proto": ["sctp"]}, "proto"),
    ({"from": ["test-02"], "to": ["1.2.3.4"], "dport": ["http"]}, "dport"),
    ({"from": ["test-02"], "to": ["1.2.3.4"], "dport": ["70000"]}, "dport"),
])
def test_trace_form_errors(query: dict[str, list[str]], option: str) -> None:
    with pytest.raises(CommandLineError) as err:
        TraceRequest.from_query(query)
    assert err.value.option == option


def test_trace_form_reads_flags() -> None:
    req = TraceRequest.from_query({"from": ["vm-a"], "to": ["vm-b"], "proto": ["tcp"],
                                   "dport": ["22"], "warm": ["1"], "reply": ["on"]})
    assert req == TraceRequest("vm-a", "vm-b", "tcp", 22, True, True)


def test_routes(server: NeutraceServer) -> None:
    code, headers, body = get(server, "/")
    assert code == 200 and b"/static/app.js" in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    for name in ("app.js", "app.css"):
        code, _, body = get(server, f"/static/{name}")
        assert code == 200 and body
    code, _, body = get(server, "/api/cloud")
    assert code == 200 and json.loads(body)["name"] == "seed"
    code, headers, body = get(server, "/api/overview.svg")
    assert code == 200 and headers["Content-Type"] == "image/svg+xml" and b"<svg" in body
    code, _, body = get(server, "/api/host?name=test-ctrl-01")
    assert code == 200 and json.loads(body)["name"] == "test-ctrl-01"
    code, _, body = get(server, "/api/trace?from=test-02&to=203.0.113.10&reply=1")
    assert code == 200 and set(json.loads(body)["traces"]) == {"request", "reply"}
    code, _, body = get(server, "/api/trace?from=nosuchvm&to=203.0.113.10")
    assert code == 400 and json.loads(body)["error"].startswith("--from nosuchvm")
    code, _, body = get(server, "/api/host?name=nosuch")
    assert code == 400 and "no such host" in json.loads(body)["error"]
    assert get(server, "/static/../api.py")[0] == 404
    assert get(server, "/nosuch")[0] == 404


def test_every_asset_is_local() -> None:
    static = resources.files("neutrace.web") / "static"
    for name in ("index.html", "app.js", "app.css"):
        text = (static / name).read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, name


def test_markup_names_stay_data_in_the_json() -> None:
    require(shutil.which("dot") is not None, "Graphviz (apt-get install graphviz)")
    api = Api(Walker(markup_cloud()))
    assert api.summary()["hosts"][0]["name"] == HOST
    host = api.host(HOST)
    assert any(COMMENT in line["text"] for ns in host["namespaces"] for line in ns["iptables"])
    assert "<script" not in host["svg"]
