"""Grammar-aware generators for the fuzz targets (`tests.support.fuzz`): texts shaped like each
format (its keywords, separators and nesting) whose values are drawn both from the valid ranges
and from just past them (widths, signs, bases, leading zeros, Unicode digits, huge numbers).

Each generator is a plain function of a `random.Random` (cheap: a CI run draws tens of
thousands); `strategy(gen)` makes a hypothesis strategy of it (one drawn seed per text, so runs
are derandomized with the rest of the suite).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from hypothesis import strategies as st

from neutrace.syntax import offields

R = random.Random
_ODD_NUMBERS = ("0", "00", "010", "007", "08", "0x", "0x0", "0X10", "-0", "-1", "+3", "1_0",
                "²", "٣", "１", "9" * 25, "0x" + "f" * 20, "1e3", "0o7", " 1", "1 ", "")
_ODD_IPV4 = ("1.2.3", "1.2.3.4.5", "999.1.1.1", "1.2.3.4\x00", "1..2.3", "", "01.02.03.010",
             "0x7f.1.1.1", "1.2.3.256", "+1.2.3.4")
_ODD_MAC = ("fa:16:3e:00:00", "fa-16-3e-00-00-01", "fa:16:3e:00:00:01:02", "fa:16:3e:0:0:1",
            "fa:16:3e:00:00:001", "g0:00:00:00:00:00")
_ODD_IPV6 = ("fe80::1%eth0", ":::", "1::2::3", "::ffff:1.2.3.4", "fe80::", "::")
_NAMES = ("qvo1", "patch-tun", "int-br-ex", "br-int", "LOCAL", "NORMAL", "IN_PORT", "in_port",
          "ANY", '"qvo1"', '"a b"', '"', "\x00", "é", "qvo²")
_FIELD_NAMES = sorted({f.name for f in offields.FIELDS.values()} | {"NXM_NX_REG0", "reg16",
                                                                    "nosuch", "eth", "arp"})
_BITS = ("[]", "", "[0]", "[0..15]", "[15..0]", "[0..200]", "[", "[a]", "[0..]", "[..3]",
         "[99999999999999999999]", "[²]", "[1..1]")


def strategy(gen: Callable[[R], str]) -> st.SearchStrategy[str]:
    """The texts of ``gen``, one per drawn seed."""
    return st.integers(0, 2**63).map(lambda n: gen(random.Random(n)))


def number(r: R) -> str:
    """A number in range, past it, or oddly spelled."""
    k = r.randrange(5)
    if k == 0:
        return str(r.randint(0, 70000))
    if k == 1:
        return hex(r.randint(0, 2**65))
    if k == 2:
        return str(r.randint(-5, 5))
    if k == 3:
        return r.choice(_ODD_NUMBERS)
    return "".join(r.choice("0123456789xXabcdef") for _ in range(r.randint(1, 6)))


def _byte(r: R) -> str:
    return str(r.randint(0, 255)) if r.random() < 0.9 else r.choice(("256", "-1", "01", "0x1"))


def ipv4(r: R) -> str:
    if r.random() < 0.8:
        return ".".join(_byte(r) for _ in range(4))
    return r.choice(_ODD_IPV4)


def mac(r: R) -> str:
    if r.random() < 0.8:
        return ":".join(f"{r.randint(0, 255):02x}" if r.random() < 0.95 else r.choice(
            ("", "g0", "100", "0", "FF")) for _ in range(6))
    return r.choice(_ODD_MAC)


def ipv6(r: R) -> str:
    if r.random() < 0.7:
        return ":".join(f"{r.randint(0, 0xFFFF):x}" for _ in range(8))
    return r.choice(_ODD_IPV6)


def _mask(r: R) -> str:
    k = r.randrange(6)
    return ("", "/" + number(r), f"/{r.randint(-1, 140)}", "/" + ipv4(r), "/" + mac(r), "")[k]


def name(r: R) -> str:
    if r.random() < 0.6:
        return r.choice(_NAMES)
    return "".join(r.choice("abcdefqvo-_.0123456789") for _ in range(r.randint(1, 20)))


def subfield(r: R) -> str:
    return r.choice(_FIELD_NAMES) + r.choice(_BITS)


def value(r: R) -> str:
    k = r.randrange(6)
    if k == 0:
        return number(r) + _mask(r)
    if k == 1:
        return ipv4(r) + _mask(r)
    if k == 2:
        return mac(r) + _mask(r)
    if k == 3:
        return ipv6(r) + _mask(r)
    if k == 4:
        return r.choice(("+trk-est", "+syn", "+bad", "-", "+", "+trk+", "0x20/0x22", "new|trk"))
    return name(r)


def _action(r: R, depth: int = 0) -> str:
    k = r.randrange(24)
    n = number
    if k == 0:
        return r.choice(("drop", "NORMAL", "FLOOD", "ALL", "IN_PORT", "LOCAL", "CONTROLLER",
                         "strip_vlan", "pop_vlan", "push_vlan", "dec_ttl", "ct_clear", "ct",
                         "exit", "note", "learn", "resubmit", "output"))
    if k == 1:
        return f"output:{name(r)}"
    if k == 2:
        return f"output:{n(r)}"
    if k == 3:
        return f"output:{subfield(r)}"
    if k == 4:
        return f"resubmit({r.choice((name(r), ''))},{r.choice((n(r), ''))})"
    if k == 5:
        return f"resubmit(,{n(r)})"
    if k == 6:
        return f"{r.choice(('goto_table', 'mod_vlan_vid', 'mod_vlan_pcp', 'push_vlan'))}:{n(r)}"
    if k == 7:
        return f"{r.choice(('set_tunnel', 'set_tunnel64', 'controller'))}:{n(r)}"
    if k == 8:
        return f"load:{n(r)}->{subfield(r)}"
    if k == 9:
        return f"move:{subfield(r)}->{subfield(r)}"
    if k == 10:
        return f"set_field:{value(r)}->{r.choice(_FIELD_NAMES)}"
    if k == 11:
        return f"{r.choice(('mod_dl_src', 'mod_nw_dst', 'mod_tp_src', 'mod_nw_tos'))}:{value(r)}"
    if k == 12:
        return f"conjunction({n(r)},{n(r)}/{n(r)})"
    if k == 13:
        return f"write_metadata:{n(r)}/{n(r)}"
    if k == 14:
        sep = r.choice(("", ":", "-", ":-", "::"))
        kind = r.choice(("src", "dst", ""))
        return f"ct(commit,nat({kind}={ipv4(r)}-{ipv4(r)}:{n(r)}{sep}{n(r)}))"
    if k == 15:
        return f"ct(commit,nat({r.choice(('src', 'dst'))}=[{ipv6(r)}]:{n(r)}-{n(r)}))"
    if k == 16:
        return f"ct(zone={r.choice((n(r), subfield(r)))},table={n(r)})"
    if k == 17:
        opt = r.choice(("table", "priority", "idle_timeout", "cookie", "hard_timeout"))
        a, b = subfield(r), subfield(r)
        return f"learn({opt}={n(r)},{a}={b},load:{n(r)}->{a},output:{b})"
    if k == 18 and depth < 2:
        return f"clone({_actions(r, depth + 1)})"
    if k == 19 and depth < 2:
        return f"ct(commit,exec({_actions(r, depth + 1)}))"
    if k == 20:
        return f"enqueue:{name(r)}:{n(r)}"
    if k == 21:
        return f"note:{r.choice(('01.02', 'zz', ''))}"
    if k == 22:
        return r.choice(("(", ")", "output(port=1,max_len=2)", "fin_timeout(idle_timeout=1)"))
    return f"{r.choice(('mod_vlan_vid', 'set_queue'))}:{value(r)}"


def _actions(r: R, depth: int = 0) -> str:
    return ",".join(_action(r, depth) for _ in range(r.randint(1, 4)))


def actions() -> st.SearchStrategy[str]:
    """An ``actions=`` list (one to four actions, nested in clone/ct at times)."""
    return strategy(_actions)


def _match_pair(r: R) -> str:
    k = r.randrange(3)
    if k == 0:
        return f"{r.choice(_FIELD_NAMES)}={value(r)}"
    if k == 1:
        return r.choice(sorted(offields.PROTOCOLS))
    head = r.choice(("table", "priority", "cookie", "idle_timeout", "hard_timeout", "n_packets",
                     "duration"))
    return f"{head}={number(r)}"


def _flow_line(r: R) -> str:
    sep = r.choice((",", ", ", " ", ",,"))
    head = sep.join(_match_pair(r) for _ in range(r.randint(0, 6)))
    arrow = r.choice((" actions=", " actions:", ",actions=", " action=", " actions = "))
    return head + arrow + _actions(r)


def flow_lines() -> st.SearchStrategy[str]:
    """An add-flows or dump-flows line: header and match pairs, then actions."""
    return strategy(_flow_line)


def _ipt_value(r: R) -> str:
    k = r.randrange(5)
    if k == 0:
        return ipv4(r) + _mask(r)
    if k == 1:
        return name(r)
    if k == 2:
        return number(r)
    if k == 3:
        return r.choice(("!", '"!"', '"a b"', "'x'", '"unterminated', "\\", "a\\ b", "NEW,EST",
                         "1:2", "65536", "-1", "0x2/0xffff", '"a\\"b"', "'it''s'"))
    return "".join(chr(r.randrange(32, 0x2100)) for _ in range(r.randint(0, 8)))


def _ipt_option(r: R) -> str:
    if r.random() < 0.6:
        opt = r.choice(("-s", "-d", "-i", "-o", "-p", "--dport", "--sport", "--ctstate",
                        "--comment", "--physdev-out", "--mark", "--match-set", "--to-source",
                        "--reject-with", "-f", "--nosuch"))
        return f"{opt} {_ipt_value(r)}"
    return r.choice(("-m tcp", "-m conntrack", "-m comment", "-m physdev", "-m set", "-m nosuch",
                     "!", "-j ACCEPT", "-j DROP", "-g neutron-x", "-j nosuch",
                     "-j MARK --set-xmark 0x1/0xffff", "-j SNAT --to-source 1.2.3.4",
                     "-p tcp --dport 22", "-m physdev --physdev-is-bridged"))


def _counters(r: R) -> str:
    return f"[{number(r)}:{number(r)}]"


def _iptables_save(r: R) -> str:
    out: list[str] = []
    for _ in range(r.randint(1, 3)):
        out.append("*" + r.choice(("filter", "nat", "raw", "mangle", "nosuch")))
        for _ in range(r.randint(0, 4)):
            chain = r.choice(("INPUT", "FORWARD", "OUTPUT", "neutron-x"))
            policy = r.choice(("ACCEPT", "DROP", "-", "RETURN"))
            out.append(f":{chain} {policy} {_counters(r)}")
        for _ in range(r.randint(0, 5)):
            counters = _counters(r) + " " if r.random() < 0.3 else ""
            chain = r.choice(("INPUT", "FORWARD", "neutron-x", "nosuch"))
            opts = " ".join(_ipt_option(r) for _ in range(r.randint(0, 6)))
            out.append(f"{counters}-A {chain} {opts}")
        out.append(r.choice(("COMMIT", "", "COMMIT\nCOMMIT", "COMMIT")))
    return "\n".join(out) + "\n"


def iptables_saves() -> st.SearchStrategy[str]:
    """An iptables-save text: tables, chain lines with counters, rules with options."""
    return strategy(_iptables_save)


def _dp_kvs(r: R) -> str:
    keys = ("src", "dst", "ttl", "tos", "sip", "tip", "op", "sha", "tha", "tun_id", "vid",
            "pcp", "")
    return ",".join(r.choice(keys) + r.choice(("=", "", "==")) + r.choice((value(r), number(r)))
                    for _ in range(r.randint(0, 4)))


def _dp_item(r: R, depth: int = 0) -> str:
    k = r.randrange(7)
    if k == 0:
        return number(r)
    if k == 1:
        proto = r.choice(("eth", "ipv4", "ipv6", "arp", "tcp", "udp", "tunnel", "nosuch"))
        return f"set({proto}({_dp_kvs(r)}))"
    if k == 2:
        return f"masked_set({r.choice(('eth', 'ipv4', 'arp'))}({_dp_kvs(r)}))"
    if k == 3:
        return f"push_vlan({_dp_kvs(r)})"
    if k == 4 and depth < 2:
        return "clone(" + ",".join(_dp_item(r, depth + 1) for _ in range(r.randint(0, 3))) + ")"
    return r.choice(("pop_vlan", "drop", "ct(zone=1)", "recirc(0x1)", "userspace(pid=1)",
                     "clone(", "set(", "set(eth)", ")", "(", "push_vlan(vid)", "set(arp(sha))",
                     "trunc(100)"))


def datapath_actions() -> st.SearchStrategy[str]:
    """A ``Datapath actions:`` list with sets, VLANs, clones and malformed arguments."""
    return strategy(lambda r: ",".join(_dp_item(r) for _ in range(r.randint(1, 5))))


_MF_KEYS = ("in_port", "dl_src", "dl_dst", "dl_type", "vlan_tci", "dl_vlan", "dl_vlan_pcp",
            "arp_op", "arp_spa", "arp_tpa", "arp_sha", "nw_src", "nw_dst", "nw_proto", "nw_ttl",
            "nw_tos", "ipv6_src", "ipv6_dst", "tp_src", "tp_dst", "tcp_src", "udp_dst",
            "icmp_type", "icmp_code", "tcp_flags", "tun_id", "tun_src", "nd_target", "nd_sll",
            "reg0", "ct_state", "recirc_id", "nosuch")
_MF_PROTOS = ("arp", "ip", "icmp", "tcp", "udp", "ipv6", "icmp6", "tcp6", "udp6", "rarp", "eth")


def _microflow(r: R) -> str:
    items = []
    for _ in range(r.randint(1, 10)):
        if r.random() < 0.25:
            items.append(r.choice(_MF_PROTOS))
            continue
        k = r.randrange(7)
        v = (number, ipv4, mac, ipv6, name, lambda r: r.choice(
            ("syn|ack", "syn|", "|", "+syn", "[200]", "fin|nosuch")), number)[k](r)
        items.append(f"{r.choice(_MF_KEYS)}={v}")
    return ",".join(items)


def microflows() -> st.SearchStrategy[str]:
    """An ``ofproto/trace`` microflow: in_port, protocol and header fields."""
    return strategy(_microflow)


_YAML_SCALARS = ("true", "yes", "on", "null", "~", "NaN", ".nan", ".inf", "1e999",
                 "10:20:30:40:50:60", "2001-12-14", "'q'", '"q"', '"\\x00"', "!!bool x",
                 "!!bool", "!!float a", "!!timestamp 1", "!!int 0x", "!!binary ==", "!!str",
                 "*a", "&a 1", "!!null x", "!!int 0o9", "!!python/name:os.system", "!x y",
                 "9" * 50, "-" + "9" * 5000, "0x" + "f" * 50)
_YAML_KEYS = ("name", "hosts", "networks", "a", "<<", "? x", "1", "x-a", "!!set x", "[a]")
_YAML_TAGS = ("", "", "", "&a ", "!!map ", "!!set ", "!!omap ", "!!seq ", "!!pairs ")


def _yaml_node(r: R, depth: int) -> str:
    if depth > 3 or r.random() < 0.4:
        k = r.randrange(3)
        if k == 0:
            return number(r)
        if k == 1:
            return r.choice(_YAML_SCALARS)
        return "".join(chr(r.randrange(32, 0x3000)) for _ in range(r.randint(0, 6)))
    if r.random() < 0.5:
        pairs = ", ".join(f"{r.choice(_YAML_KEYS)}: {r.choice(_YAML_TAGS)}"
                          f"{_yaml_node(r, depth + 1)}" for _ in range(r.randint(1, 3)))
        return "{" + pairs + "}"
    items = ", ".join(_yaml_node(r, depth + 1) for _ in range(r.randint(0, 3)))
    return r.choice(("", "!!seq ", "&a ")) + "[" + items + "]"


def _json_node(r: R, depth: int) -> str:
    if depth > 3 or r.random() < 0.4:
        return r.choice(('"a"', "NaN", "Infinity", "-Infinity", "-0", "1e400", "null", "true",
                         str(r.randint(-10, 10)), "9" * 5000, '"\\ud800"'))
    if r.random() < 0.5:
        return "[" + ",".join(_json_node(r, depth + 1) for _ in range(r.randint(0, 3))) + "]"
    keys = ('"a"', '"b"')
    return "{" + ",".join(f"{r.choice(keys)}:{_json_node(r, depth + 1)}"
                          for _ in range(r.randint(0, 3))) + "}"


def _yaml_text(r: R) -> str:
    if r.random() < 0.3:
        return '{"name": "x", "x": ' + _json_node(r, 0) + "}"
    head = r.choice(("", "%YAML 1.1\n---\n", "--- ", "x-a: &a {b: 1}\n"))
    return head + _yaml_node(r, 0)


def yaml_texts() -> st.SearchStrategy[str]:
    """YAML (and JSON) texts: nested mappings and lists with tags, anchors, aliases and merge
    keys, and scalars of every kind."""
    return strategy(_yaml_text)
