"""An HA router on the real backend, keepalived-free: the VIPs and routes the agents' state puts
only on the master (as keepalived would) are real addresses in real namespaces, so real
packets take the master's path. With network2 as master (the topology's ``ha_master``), a ping
from instance3 to the outside host is delivered SNATed to the router's gateway address, and
only network2's qrouter- namespace has its connection in conntrack; the simulator says the
same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from neutrace import topology
from neutrace.app import session
from tests.functional.real.conftest import require_real
from tests.support.paths import EXAMPLES
from tests.support.real_cloud import RealCloud
from tests.support.walk_path import delivered, order

pytestmark = [pytest.mark.root, pytest.mark.ovs]

SOURCE = EXAMPLES / "ha" / "cloud.yaml"


@pytest.fixture(scope="module")
def master2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCloud]:
    """examples/ha with network2 as master, up."""
    require_real()
    path = Path(tmp_path_factory.mktemp("ha")) / "cloud.yaml"
    path.write_text(SOURCE.read_text().replace("    ha_master: network1\n",
                                               "    ha_master: network2\n"))
    with RealCloud(path, stem="ha-master2") as c:
        yield c


def test_real_packets_take_the_masters_path(master2: RealCloud) -> None:
    cloud = topology.load(master2.path)
    (router,) = cloud.routers
    assert router.host == "network2"
    gw = router.external_gateway
    assert gw is not None
    gw_ip = cloud.port(gw.port_id).fixed_ips[0].ip_address
    conv = session.trace(master2.walker, "instance3", "internet-host")
    assert f"network2/qrouter-{router.id}" in order(delivered(conv.request))
    seen = master2.probe("instance3", "internet-host", "198.18.0.10")
    assert seen == gw_ip
    qrouter = f"qrouter-{router.id}"
    tracked = {host: master2.exec(f"{host}:{qrouter}", "conntrack", "-L", "-s",
                                  "198.51.100.5", check=False).stdout
               for host in router.ha_hosts}
    assert "198.18.0.10" in tracked["network2"], tracked
    assert "198.18.0.10" not in tracked["network1"], tracked
    # the backup's qr-/qg- are up without addresses, its ha- has only its own HA address
    addrs = master2.exec(f"network1:{qrouter}", "ip", "-4", "-o", "addr").stdout
    assert "198.51.100.1/" not in addrs and "169.254.0.1/" not in addrs
    assert "169.254.192.1/18" in addrs
