"""Every iptables/ip6tables text the agents generate loads with the real ``iptables-restore`` in a
private namespace, and ``iptables-save`` prints it back unchanged.

Between tables the order differs by iptables flavour (nft vs legacy, module load order), and
iptables-nft prints ``--mac-source`` in lower case where legacy (and Neutron) use upper case, so
tables are compared as blocks and MACs case-insensitively; within a table, every chain and rule
line must match exactly and in order.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator

import pytest

from neutrace.agents import program
from neutrace.dataplane import CloudState
from tests.support.paths import SEED_YAML

MAC = re.compile(r"--mac-source (\S+)")


def _tables(text: str) -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if line.startswith("*"):
            current = tables.setdefault(line[1:], [])
        current.append(MAC.sub(lambda m: "--mac-source " + m.group(1).upper(), line))
    return tables


def _seed_state() -> CloudState:
    from neutrace.topology import load

    return program(load(str(SEED_YAML)))


SEED = _seed_state()


@pytest.fixture()
def netns(netns_root: None) -> Iterator[str]:
    name = f"nt-agents-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _cases() -> list[tuple[str, str, str]]:
    """(host, namespace, tool) for every namespace of the seed that has iptables."""
    return [(h.name, ns.name, tool) for h in SEED.hosts for ns in h.namespaces if ns.iptables
            for tool in ("iptables", "ip6tables")]


@pytest.mark.root
@pytest.mark.parametrize("host,namespace,tool", _cases())
def test_iptables_restore_and_save_round_trip(netns: str, host: str, namespace: str,
                                              tool: str) -> None:
    h = SEED.host(host)
    assert h is not None
    ns = h.namespace(namespace)
    assert ns is not None
    text = ns.iptables if tool == "iptables" else ns.ip6tables
    assert text
    if ns.ipsets:
        subprocess.run(["ip", "netns", "exec", netns, "ipset", "restore", "-exist"],
                       input=ns.ipsets, text=True, check=True)
    restore = subprocess.run(["ip", "netns", "exec", netns, f"{tool}-restore"], input=text,
                             text=True, capture_output=True)
    assert restore.returncode == 0, restore.stderr
    saved = subprocess.run(["ip", "netns", "exec", netns, f"{tool}-save"], text=True,
                           capture_output=True, check=True).stdout
    assert _tables(saved) == _tables(text), (host, ns.name, tool)
