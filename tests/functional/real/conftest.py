"""Fixtures of the real-backend tests: one `up` of the seed shared by the whole session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from neutrace.backends.ovs_sandbox import ovs_available
from tests.conftest import require
from tests.support.paths import SEED_YAML
from tests.support.real_cloud import RealCloud


def require_real() -> None:
    """Root, iproute2, Open vSwitch and the netfilter tools (skip on a laptop, fail in CI)."""
    require(os.geteuid() == 0 and shutil.which("ip") is not None, "root with iproute2")
    require(ovs_available(), "Open vSwitch (openvswitch-switch)")
    for tool, pkg in (("iptables-restore", "iptables"), ("ipset", "ipset"),
                      ("ethtool", "ethtool"), ("conntrack", "conntrack"),
                      ("tcpdump", "tcpdump"), ("ping", "iputils-ping")):
        require(shutil.which(tool) is not None, f"{tool} ({pkg})")


@pytest.fixture(scope="session")
def seed_cloud() -> Iterator[RealCloud]:
    """The seed cloud, up for the whole session."""
    require_real()
    with RealCloud(SEED_YAML) as c:
        yield c
