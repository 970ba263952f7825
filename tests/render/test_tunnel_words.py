"""The words of a GRE and a Geneve encapsulation in the readable walk (the facts are checked in
tests/sim/test_walk_tunnels.py): GRE has a key and no UDP ports, Geneve its UDP port 6081."""

from __future__ import annotations

from neutrace.app import session
from neutrace.render.walk import walk_text
from tests.support.paths import DATA

CLOUD_PATH = DATA / "clouds" / "gre-geneve.yaml"


def test_geneve_and_gre_are_named_with_their_outer_headers() -> None:
    w = session.walker(CLOUD_PATH)
    t = session.trace(w, "g1", "r1vm").request
    assert t is not None
    text = walk_text(t)
    assert "Geneve vni 0x1 10.6.0.11 > 10.6.0.10 [ICMP" in text
    assert "Geneve (UDP 6081) encapsulation on hv1: VNI 0x1, outer 10.6.0.11 -> 10.6.0.10" \
        in text
    assert "IPv4 10.6.0.11 > 10.6.0.10, UDP 0 > 6081; the frame inside is unchanged" in text
    assert "GRE key 0x1001 10.6.0.10 > 10.6.0.12 [ICMP" in text
    assert "GRE encapsulation on net: key 0x1001, outer 10.6.0.10 -> 10.6.0.12" in text
    assert "IPv4 10.6.0.10 > 10.6.0.12, GRE key 0x1001; the frame inside is unchanged" in text
    assert "VNI 0x1001" not in text
