#!/usr/bin/env python3
"""Extract the cases of Open vSwitch's own testsuite that run ``ofproto/trace`` into data
(tests/data/ovs-testsuite/<file>.json), for neutrace's differential replay
(scripts/ovs_testsuite_replay.py, tests/functional/ovs/test_ovs_testsuite.py).

Usage::

    python3 scripts/ovs_testsuite_extract.py OVS_SOURCE_TREE [--commit SHA] [--out DIR] [FILE.at...]

``OVS_SOURCE_TREE`` is a checkout of openvswitch/ovs at the tag of the OVS that runs the replay
(v3.1.0 here). Nothing of OVS's code is kept: only facts of each test case (the commands that
build its bridges, ports, flows and groups, and the microflows it traces), each with the source
commit and ``file:line`` it comes from. OVS is Apache-2.0; see tests/data/ovs-testsuite/README.md.

How: autotest files are m4 over shell. The m4 layer is undone here (``dnl``, quoting,
quadrigraphs, ``m4_define``d macros with ``$1``..``$9``, ``AT_CHECK``/``AT_DATA``/
``OVS_VSWITCHD_START``/``OVS_WAIT_*``); the shell layer (variables, loops, functions, ``set``,
here-documents) is left to bash, run in an empty network namespace (``unshare --net``) in a
temporary directory, with ``PATH`` limited to a few text tools and every Open vSwitch command
replaced by a recorder that writes its argument vector (plus the files and standard input it
would read) and runs nothing. ``kill``/``exec``/``trap`` are disabled. The recorded commands of
each ``AT_SETUP`` group that traces become its ``steps``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

FILES = ("ofproto-dpif.at", "classifier.at", "learn.at", "tunnel.at", "mpls-xlate.at",
         "bundle.at", "nsh.at", "tunnel-push-pop.at", "tunnel-push-pop-ipv6.at", "stp.at",
         "rstp.at", "dpif-netdev.at", "ofproto.at", "packet-type-aware.at")
TEXT_TOOLS = ("cat", "sed", "tail", "head", "grep", "sort", "uniq", "tr", "cut", "wc", "seq",
              "expr", "awk", "mv", "cp", "rm", "touch", "tee", "printf", "basename", "true",
              "false", "mkdir", "dirname", "od", "xxd", "bc", "paste", "fold", "rev")
RECORDED = ("ovs-vsctl", "ovs-ofctl", "ovs-appctl", "ovs-dpctl", "ovstest", "ovs-pcap",
            "ovs-vswitchd", "ovsdb-server", "ovsdb-tool", "ovs-pki", "ovs-testcontroller",
            "ovs-tcpdump", "ovs-tcpundump", "ovs-packet", "ovs-ofparse", "ovs-dpctl-top",
            "ovs-docker", "python3", "nc", "ip", "tcpdump", "ping", "sleep")

QUADRIGRAPHS = (("@<:@", "["), ("@:>@", "]"), ("@S|@", "$"), ("@%:@", "#"), ("@&t@", ""),
                ("@{:@", "("), ("@:}@", ")"))


# -- the m4 layer ------------------------------------------------------------------------------

@dataclass
class Call:
    """A macro call: its name, raw (still quoted) arguments, and the line it starts on."""

    name: str
    args: list[str]
    line: int


_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def _skip_dnl(text: str, i: int) -> int:
    nl = text.find("\n", i)
    return len(text) if nl < 0 else nl + 1


def parse_args(text: str, i: int) -> tuple[list[str], int]:
    """Arguments of a macro call whose ``(`` is at ``text[i]``: raw texts (quotes kept, leading
    whitespace of each dropped, as m4 does), and the index after ``)``."""
    assert text[i] == "("
    args: list[str] = []
    cur: list[str] = []
    depth = 0  # quote depth
    paren = 0
    i += 1
    start = True
    while i < len(text):
        c = text[i]
        if start and c in " \t\n":
            i += 1
            continue
        start = False
        if depth == 0 and text.startswith("dnl", i) and not _NAME.match(text[i + 3:i + 4] or " "):
            i = _skip_dnl(text, i)
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
        elif depth == 0 and c == "(":
            paren += 1
        elif depth == 0 and c == ")":
            if paren == 0:
                args.append("".join(cur))
                return args, i + 1
            paren -= 1
        elif depth == 0 and c == "," and paren == 0:
            args.append("".join(cur))
            cur = []
            start = True
            i += 1
            continue
        cur.append(c)
        i += 1
    raise ValueError("unterminated macro call")


def unquote(text: str) -> str:
    """One level of m4 quotes removed (what expanding an argument does), ``dnl`` applied."""
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(text):
        c = text[i]
        if c == "[":
            depth += 1
            if depth > 1:
                out.append(c)
        elif c == "]":
            depth -= 1
            if depth > 0:
                out.append(c)
        elif (depth == 0 and text.startswith("dnl", i)
              and not _NAME.match(text[i + 3:i + 4] or " ")
              and (i == 0 or not _NAME.match(text[i - 1]))):
            i = _skip_dnl(text, i)
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def strip_dnl(text: str) -> str:
    """``dnl`` to the end of its line removed (the expanded text is rescanned by m4)."""
    return re.sub(r"(?<![A-Za-z_0-9])dnl(?![A-Za-z_0-9]).*(?:\n|$)", "", text)


def quadrigraphs(text: str) -> str:
    for a, b in QUADRIGRAPHS:
        text = text.replace(a, b)
    return text


class M4:
    """The m4 layer of an autotest file: user macros (``m4_define``) and the autotest ones that
    matter for extraction, turned into shell text (``expand``)."""

    def __init__(self) -> None:
        self.macros: dict[str, str] = {}

    def expand(self, text: str, line: int, depth: int = 0) -> str:
        """Shell text for ``text`` (a group body or a macro's expansion) whose first line is
        ``line``: each top-level statement is preceded by a ``__nt_at LINE STATUS`` marker."""
        if depth > 20:
            raise ValueError("macro recursion")
        out: list[str] = []
        i = 0
        ln = line
        while i < len(text):
            c = text[i]
            if c == "\n":
                ln += 1
                out.append(c)
                i += 1
                continue
            if c == "#" and (i == 0 or text[i - 1] in " \t\n"):
                j = text.find("\n", i)
                j = len(text) if j < 0 else j
                out.append(text[i:j])
                i = j
                continue
            m = _NAME.match(text, i)
            if m and (i == 0 or not _NAME.match(text[i - 1])) and text[i - 1:i] != "$":
                name = m.group(0)
                j = m.end()
                if name == "dnl":
                    i = _skip_dnl(text, i)
                    ln += 1
                    continue
                if j < len(text) and text[j] == "(" and (
                        name in self.macros or name.startswith(("AT_", "OVS_", "m4_"))):
                    args, end = parse_args(text, j)
                    out.append(self.call(Call(name, args, ln), depth))
                    ln += text.count("\n", i, end)
                    i = end
                    continue
                if name in self.macros or name in ("OVS_VSWITCHD_START", "OVS_VSWITCHD_STOP",
                                                   "AT_CLEANUP"):
                    out.append(self.call(Call(name, [], ln), depth))
                    i = j
                    continue
                out.append(name)
                i = j
                continue
            if c == "[" or c == "]":
                # quotes in shell text at the top level are m4's: drop one level
                depth_q = 1
                if c == "[":
                    k = i + 1
                    while k < len(text) and depth_q:
                        if text[k] == "[":
                            depth_q += 1
                        elif text[k] == "]":
                            depth_q -= 1
                        k += 1
                    inner = text[i + 1:k - 1]
                    out.append(quadrigraphs(inner))
                    ln += inner.count("\n")
                    i = k
                    continue
                i += 1
                continue
            out.append(c)
            i += 1
        return quadrigraphs("".join(out))

    def call(self, c: Call, depth: int) -> str:
        """The shell text of one macro call."""
        a = c.args + [""] * 9
        n = c.name
        mark = f"\n{{ __nt_at {c.line} "
        if n in ("AT_CHECK", "AT_CHECK_UNQUOTED"):
            status = unquote(a[1]).strip() or "0"
            status = status if re.fullmatch(r"[0-9]+|ignore", status) else "ignore"
            body = self.expand(unquote(a[0]), c.line, depth + 1)
            return f"{mark}{status}\n{body}\n}}\n"
        if n == "AT_DATA":
            name = unquote(a[0]).strip()
            # the argument's quotes go when it is collected, the next level when AT_DATA's
            # expansion is rescanned (why OVS writes NXM_NX_REG0[[]] there)
            body = quadrigraphs(unquote(unquote(a[1])))
            nl = "" if body.endswith("\n") else "\n"
            return f"\ncat > '{name}' <<'__NT_EOF__'\n{body}{nl}__NT_EOF__\n"
        if n == "OVS_VSWITCHD_START":
            vsctl = self.expand(unquote(a[0]), c.line, depth + 1).replace("\\\n", " ")
            vsctl = " ".join(vsctl.split("\n"))
            extra = unquote(a[3]).strip()
            return (f"{mark}0\n__nt_vswitchd {shell_word(unquote(a[2]))} {shell_word(extra)}\n"
                    f"add_of_br 0 {vsctl}\n}}\n")
        if n in ("OVS_WAIT_UNTIL", "OVS_WAIT_WHILE", "OVS_WAIT_UNTIL_EQUAL"):
            body = self.expand(unquote(a[0]), c.line, depth + 1)
            return f"{mark}ignore\n{body}\n}} >/dev/null\n"
        if n in ("OVS_VSWITCHD_STOP", "AT_CLEANUP", "AT_KEYWORDS", "AT_CAPTURE_FILE",
                 "AT_BANNER", "AT_SETUP", "OVS_APP_EXIT_AND_WAIT", "AT_XFAIL_IF",
                 "OVS_APP_EXIT_AND_WAIT_BY_TARGET", "WAIT_FOR_DUMMY_PORTS", "AT_FAIL_IF"):
            return ""
        if n == "AT_SKIP_IF":
            return f"{mark}ignore\n__nt_skip_if {shell_word(unquote(a[0]))}\n}}\n"
        if n == "m4_define":
            self.macros[unquote(a[0]).strip()] = unquote(a[1])
            return ""
        if n in self.macros:
            body = self.macros[n]
            for k in range(9, 0, -1):
                body = body.replace(f"${k}", unquote(a[k - 1]))
            body = body.replace("$#", str(len(c.args)))
            return self.expand(body, c.line, depth + 1)
        if n == "OVS_VSWITCHD_DISABLE_TUNNEL_PUSH_POP":
            return f"{mark}0\novs-appctl dpif/set-dp-features br0 tnl_push_pop false\n}}\n"
        if n.startswith("m4_"):
            return f"\n__nt_unknown_macro {n} {c.line}\n"
        return f"\n__nt_unknown_macro {n} {c.line}\n"


def shell_word(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# -- groups ------------------------------------------------------------------------------------

@dataclass
class Group:
    """One ``AT_SETUP`` ... ``AT_CLEANUP`` group: its title, first line and body text."""

    title: str
    line: int
    body: str
    body_line: int
    keywords: list[str] = field(default_factory=list)


def groups(text: str, m4: M4) -> list[Group]:
    """The AT_SETUP groups of an autotest file, expanding top-level macros that define groups
    (``m4_define([CHECK_X], [AT_SETUP(...)...AT_CLEANUP])`` then ``CHECK_X(args)``)."""
    out: list[Group] = []
    i = 0
    ln = 1
    while i < len(text):
        m = _NAME.match(text, i)
        if text[i] == "\n":
            ln += 1
            i += 1
            continue
        if not m or (i > 0 and _NAME.match(text[i - 1])):
            i += 1
            continue
        name = m.group(0)
        j = m.end()
        if name == "dnl":
            i = _skip_dnl(text, i)
            ln += 1
            continue
        if name == "m4_define" and text[j:j + 1] == "(":
            args, end = parse_args(text, j)
            m4.macros[unquote(args[0]).strip()] = unquote(args[1])
            ln += text.count("\n", i, end)
            i = end
            continue
        if name in m4.macros and text[j:j + 1] == "(" and "AT_SETUP" in m4.macros[name]:
            args, end = parse_args(text, j)
            body = m4.macros[name]
            for k in range(9, 0, -1):
                body = body.replace(f"${k}", unquote(args[k - 1]) if k <= len(args) else "")
            for g in groups(body, m4):
                # a group made by a macro: its cases point at the macro call
                out.append(Group(g.title, ln, g.body, ln, g.keywords))
            ln += text.count("\n", i, end)
            i = end
            continue
        if name == "AT_SETUP" and text[j:j + 1] == "(":
            args, end = parse_args(text, j)
            title = unquote(args[0]).strip()
            stop = text.find("AT_CLEANUP", end)
            stop = len(text) if stop < 0 else stop
            body = text[end:stop]
            body_line = ln + text.count("\n", i, end)
            out.append(Group(title, ln, body, body_line))
            ln += text.count("\n", i, stop)
            i = stop
            continue
        i = j
    return out


# -- the shell layer ---------------------------------------------------------------------------

PREAMBLE = r"""
set +e
enable -n kill exec trap ulimit 2>/dev/null
__nt_line=0
__nt_status=0
__nt_at() { __nt_line=$1; __nt_status=$2; }
__nt_rec() {
  local a
  { printf 'R\037%s\037%s\037' "$__nt_line" "$__nt_status"
    for a in "$@"; do printf '%s\036' "$a"; done
    printf '\037'
  } >> "$__NT_REC"
  if [ "$1" = ovs-ofctl ] || [ "$1" = ovs-vsctl ] || [ "$1" = ovs-appctl ]; then
    for a in "$@"; do
      case "$a" in */*) ;; *)
        if [ -f "$a" ]; then
          { printf 'F\037%s\037' "$a"; cat -- "$a"; printf '\037'; } >> "$__NT_REC"
        fi;;
      esac
      if [ "$a" = - ]; then { printf 'S\037'; cat; printf '\037'; } >> "$__NT_REC"; fi
    done
  fi
  printf '\035' >> "$__NT_REC"
}
__nt_unknown_macro() { __nt_rec __unknown_macro "$@"; }
__nt_vswitchd() { __nt_rec __vswitchd "$@"; }
__nt_skip_if() { __nt_rec __skip_if "$@"; }
command_not_found_handle() { __nt_rec __unknown_command "$@"; return 0; }
for __c in ovs-vsctl ovs-ofctl ovs-appctl ovs-dpctl ovstest ovs-pcap ovs-vswitchd ovsdb-server \
    ovsdb-tool ovs-pki ovs-testcontroller ovs-tcpdump ovs-tcpundump ovs-packet python3 nc ip \
    tcpdump ping sleep check_logs on_exit ovs_wait_cond ovs_wait_failed ovs_wait_ ; do
  eval "$__c() { __nt_rec $__c \"\$@\"; }"
done
ovs-vsctl() {
  __nt_rec ovs-vsctl "$@"
  case " $* " in *" show "*) echo . ;; esac
}
add_of_br() {
  local brnum=$1; shift
  ovs-vsctl -- add-br br$brnum -- set bridge br$brnum datapath-type=dummy fail-mode=secure \
    other-config:datapath-id=fedcba987654321$brnum other-config:hwaddr=aa:55:aa:55:00:0$brnum \
    protocols=[OpenFlow10,OpenFlow11,OpenFlow12,OpenFlow13,OpenFlow14,OpenFlow15] -- "$@"
}
add_of_ports__() {
  local ptype=$1; shift
  local pcap=false
  if test "$1" = --pcap; then pcap=:; shift; fi
  local br=$1; shift
  local args=() pnum
  for pnum; do
    args+=(-- add-port $br p$pnum -- set Interface p$pnum type=$ptype ofport_request=$pnum)
    if $pcap; then
      args+=(-- set Interface p$pnum options:rxq_pcap=p$pnum-rx.pcap
             options:tx_pcap=p$pnum-tx.pcap)
    fi
  done
  ovs-vsctl "${args[@]}"
}
add_of_ports() { add_of_ports__ dummy "$@"; }
add_pmd_of_ports() { add_of_ports__ dummy-pmd "$@"; }
"""


def run_shell(script: str, bindir: Path, timeout: float = 30.0) -> list[dict[str, object]]:
    """Run ``script`` (a group's shell text) under the recorder; the recorded commands."""
    with tempfile.TemporaryDirectory(prefix="nt-ovsat-") as d:
        rec = Path(d) / ".rec"
        rec.write_text("")
        work = Path(d) / "w"
        work.mkdir()
        (Path(d) / "script.sh").write_text(PREAMBLE + "\n" + script + "\n")
        env = {"PATH": str(bindir), "HOME": d, "__NT_REC": str(rec), "LC_ALL": "C",
               "OVS_RUNDIR": d, "OVS_DBDIR": d, "OVS_LOGDIR": d, "OVS_SYSCONFDIR": d}
        argv = [shutil.which("timeout") or "timeout", str(timeout), "/usr/bin/bash",
                "--noprofile", "--norc", str(Path(d) / "script.sh")]
        if os.geteuid() == 0 and shutil.which("unshare"):
            argv = [shutil.which("unshare") or "unshare", "--net", "--"] + argv
        proc = subprocess.run(argv, cwd=work, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, check=False)
        raw = rec.read_bytes().decode("utf-8", "replace")
        raw = raw.replace(d, "{OVS_RUNDIR}")  # the test's own directory (OVS_RUNDIR there)
    records: list[dict[str, object]] = []
    for chunk in raw.split("\x1d"):
        if not chunk.startswith("R\x1f"):
            continue
        parts = chunk.split("\x1f")
        _, line, status, argvs, *rest = parts
        entry: dict[str, object] = {"line": int(line), "status": status,
                                    "argv": argvs.split("\x1e")[:-1]}
        files: dict[str, str] = {}
        k = 0
        while k + 1 < len(rest):
            kind = rest[k]
            if kind == "F" and k + 2 < len(rest):
                files[rest[k + 1]] = rest[k + 2]
                k += 3
            elif kind == "S":
                entry["stdin"] = rest[k + 1]
                k += 2
            else:
                k += 1
        if files:
            entry["files"] = files
        records.append(entry)
    if proc.returncode == 124:
        records.append({"line": 0, "status": "0", "argv": ["__timeout"]})
    return records


def make_bindir(root: Path) -> Path:
    """A directory with only the text tools the shell layer may run."""
    bindir = root / "bin"
    bindir.mkdir()
    for tool in TEXT_TOOLS:
        path = shutil.which(tool)
        if path:
            (bindir / tool).symlink_to(path)
    return bindir


# -- steps -------------------------------------------------------------------------------------

TRACE_OPTS = ("-generate", "--generate")


def step_of(rec: dict[str, object]) -> dict[str, object] | None:
    """The data step of one recorded command (None: irrelevant to the replay: a dump, a
    comparison, a log check)."""
    argv = [str(a) for a in rec["argv"]]  # type: ignore[union-attr]
    tool, args = argv[0], argv[1:]
    base: dict[str, object] = {"line": rec["line"], "status": rec["status"]}
    if tool == "ovs-vsctl":
        if any(a in ("show", "list", "get", "find", "list-br", "list-ports", "list-ifaces",
                     "iface-to-br", "port-to-br", "br-to-vlan", "br-to-parent", "wait-until",
                     "--columns=ofport") for a in args[:3]) and not any(
                a in ("set", "add-port", "add-br", "del-port", "del-br", "add-bond", "clear",
                      "add", "remove", "create", "destroy") for a in args):
            return None
        return base | {"op": "vsctl", "args": args}
    if tool == "ovs-ofctl":
        words = [a for a in args if not a.startswith("-")]
        cmd = words[0] if words else ""
        if cmd.startswith(("dump-", "show", "monitor", "snoop", "queue-stats", "ping",
                           "benchmark", "parse-", "ofp-parse", "probe", "get-frags", "dump",
                           "compose-packet", "print-", "list-")) or cmd in ("", "diff-flows"):
            return None
        step = base | {"op": "ofctl", "args": args}
        for k in ("files", "stdin"):
            if k in rec:
                step[k] = rec[k]
        return step
    if tool == "ovs-appctl":
        opts = [a for a in args if a.startswith("-")]
        words = [a for a in args if not a.startswith("-") or a in TRACE_OPTS]
        if words and words[0] == "ofproto/trace":
            rest = [a for a in words[1:] if a not in TRACE_OPTS]
            step = base | {"op": "trace", "args": args[args.index("ofproto/trace") + 1:]}
            step["generate"] = any(a in TRACE_OPTS for a in args)
            if len(rest) >= 2 and not ("(" in rest[0] or "=" in rest[0]):
                step["bridge"], step["flow"] = rest[0], rest[1]
                step["packet"] = rest[2] if len(rest) > 2 else None
            elif rest:
                step["bridge"], step["flow"] = None, rest[0]
                step["packet"] = rest[1] if len(rest) > 1 else None
            step["options"] = [a for a in opts if a not in TRACE_OPTS]
            return step
        if words and words[0].startswith(("dpif/dump", "dpif/show", "fdb/show", "bond/show",
                                          "lacp/show", "vlog/", "coverage/", "memory/",
                                          "upcall/show", "ofproto/list", "dpctl/dump",
                                          "dpif-netdev/pmd", "revalidator/wait", "mdb/show",
                                          "stp/show", "rstp/show", "tnl/ports/show",
                                          "ovs/route/show", "tnl/neigh/show", "dpif/show-dp",
                                          "bfd/show", "cfm/show", "list-commands", "version",
                                          "ofproto/tnl-push-pop")):
            return None
        return base | {"op": "appctl", "args": args}
    if tool in ("__unknown_macro", "__skip_if", "__vswitchd", "__timeout"):
        return base | {"op": tool.strip("_"), "args": args}
    if tool in ("check_logs", "on_exit", "sleep", "ovs-dpctl", "ovs-pcap", "__unknown_command",
                "ovs_wait_cond", "ovs_wait_failed", "ovs_wait_"):
        if tool == "ovs-dpctl" and args[:1] and args[0] not in ("normalize-actions", "dump-flows",
                                                               "show", "dump-dps"):
            return base | {"op": "dpctl", "args": args}
        return None
    return base | {"op": "other", "tool": tool, "args": args}


def extract_file(path: Path, commit: str, bindir: Path, m4: M4) -> dict[str, object]:
    """The cases of one ``.at`` file: each group that runs ofproto/trace, with its steps."""
    text = path.read_text()
    cases: list[dict[str, object]] = []
    for g in groups(text, m4):
        if "ofproto/trace" not in g.body and "OFPROTO_TRACE" not in g.body and not any(
                "ofproto/trace" in m4.macros.get(n, "") for n in re.findall(r"[A-Z_]+", g.body)):
            continue
        script = M4()
        script.macros = dict(m4.macros)
        shell = script.expand(g.body, g.body_line)
        records = run_shell(shell, bindir)
        steps = [s for s in (step_of(r) for r in records) if s is not None]
        if not any(s["op"] == "trace" for s in steps):
            continue
        cases.append({"title": g.title, "line": g.line, "steps": steps})
    return {"source": {"repository": "github.com/openvswitch/ovs", "commit": commit,
                       "file": f"tests/{path.name}", "license": "Apache-2.0"},
            "cases": cases}


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tree", help="an openvswitch/ovs checkout (its tests/ folder is read)")
    ap.add_argument("--commit", required=True, help="the commit of that checkout (recorded)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent
                                         / "tests" / "data" / "ovs-testsuite"))
    ap.add_argument("files", nargs="*", default=list(FILES))
    ns = ap.parse_intermixed_args(argv)
    out = Path(ns.out)
    out.mkdir(parents=True, exist_ok=True)
    tests = Path(ns.tree) / "tests"
    base = M4()
    for name in ("ovs-macros.at", "ofproto-macros.at"):
        if (tests / name).is_file():
            groups((tests / name).read_text(), base)  # their m4_defines only
    with tempfile.TemporaryDirectory(prefix="nt-ovsat-bin-") as d:
        bindir = make_bindir(Path(d))
        for name in ns.files:
            path = tests / name
            if not path.is_file():
                print(f"{name}: not in {tests}", file=sys.stderr)
                continue
            m4 = M4()
            m4.macros = {k: v for k, v in base.macros.items()
                         if not k.startswith(("AT_", "OVS_", "_OVS", "AS_"))}
            data = extract_file(path, ns.commit, bindir, m4)
            cases = data["cases"]
            assert isinstance(cases, list)
            if not cases:
                continue
            target = out / (path.stem + ".json")
            target.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
            ntraces = sum(1 for c in cases for s in c["steps"] if s["op"] == "trace")
            print(f"{name}: {len(cases)} cases, {ntraces} traces -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
