"""Replay of Open vSwitch's own testsuite cases (tests/data/ovs-testsuite/*.json, made by
scripts/ovs_testsuite_extract.py) on real ovs-vswitchd and on neutrace's OpenFlow engine.

For each case, its steps (``ovs-vsctl``, ``ovs-ofctl``, ``ovs-appctl`` commands as OVS's test
ran them) are run, in order, in one private `OvsSandbox`. At each ``ofproto/trace`` the
sandbox's state is dumped as a sosreport dumps it (``ovs-vsctl show``, ``list interface``,
``list port``, ``ovs-ofctl show``, ``ovs-ofctl -O OpenFlow15 dump-flows``, ``fdb/show``), every
flow gets a
unique cookie (in the dump and, with ``replace-flows``, in the sandbox, so that "the same flow
matched" is exact; the original flows are put back before the next step), the dump is read
with neutrace's importer and the microflow is traced by both: OVS with the test's own
arguments, the engine with the same microflow text (or, for a datapath-form flow
``in_port(1),eth(...)``, OVS's ``Flow:`` line). The results are compared per part
(`neutrace.verify.ofproto`): the tables and flows visited, the outputs (with tunnel ids),
the final flow.

A trace that the engine cannot take (its bridges do not load, its microflow is refused) counts
against it; a trace whose inputs a dump cannot express (a packet given as bytes, an error case
that OVS refuses, a setup that failed) is excluded with the reason.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from neutrace.app.ofproto_trace import fdb_state, start_point
from neutrace.backends.ovs_load import OvsTracer
from neutrace.backends.ovs_sandbox import OvsSandbox
from neutrace.dataplane import OvsBridge
from neutrace.engines.openflow import OpenFlowEngine, OpenFlowState
from neutrace.errors import BackendError, InputError, InputWarning, NeutraceError
from neutrace.importers.ovs_dumps import load_sos, load_sos_fdb
from neutrace.syntax.offields import ct_state_bits
from neutrace.syntax.ovsfdb import MacEntry
from neutrace.verify.ofproto import observe_engine, observe_ovs

DATA = Path(__file__).resolve().parent.parent / "data" / "ovs-testsuite"
PARTS = ("tables", "outputs", "final")
DETAIL_LIMIT = 2000  # characters of a disagreement kept in its Outcome
OF_PROTOCOLS = "[OpenFlow10,OpenFlow11,OpenFlow12,OpenFlow13,OpenFlow14,OpenFlow15]"
_COOKIE = re.compile(r"^\s*cookie=0x[0-9a-f]+,\s*")
# appctl commands whose effect a state dump holds (or that only read): replayed; the others
# leave state a dump cannot express, or stop the clock
_TIME = ("time/stop",)
_FILE_OPTION = re.compile(r"^(options:(?:pcap|rxq_pcap|tx_pcap)=)(.+)$")


@dataclass(frozen=True)
class Outcome:
    """One traced microflow: where it comes from, and how the engine fared.

    ``status``: ``agree`` (every part agrees), ``differ`` (``parts`` says which agree),
    ``load`` (the engine could not load the dumped bridges), ``refused`` (the engine refused
    the microflow), ``excluded`` (the inputs are outside what a dump expresses: ``reason``)."""

    file: str
    line: int
    title: str
    status: str
    reason: str = ""
    parts: tuple[tuple[str, bool], ...] = ()
    features: tuple[str, ...] = ()
    detail: str = ""

    @property
    def counted(self) -> bool:
        return self.status != "excluded"

    def agrees(self, part: str) -> bool:
        return self.status == "agree" or dict(self.parts).get(part, False)


def cases(files: Iterable[str] | None = None) -> Iterator[tuple[str, dict[str, object]]]:
    """``(file, case)`` for every extracted case (``files``: stems such as ``ofproto-dpif``)."""
    for path in sorted(DATA.glob("*.json")):
        if files is not None and path.stem not in files:
            continue
        data = json.loads(path.read_text())
        for case in data["cases"]:
            yield path.stem + ".at", case


@dataclass
class _State:
    dirty: bool = True
    snapshot: tuple[tuple[OvsBridge, ...], dict[str, str], frozenset[str]] | None = None
    load_error: str = ""
    load_detail: str = ""
    setup_failed: str = ""
    features: set[str] = field(default_factory=set)


class Replayer:
    """Runs cases in one sandbox (bridges deleted between cases)."""

    def __init__(self, sandbox: OvsSandbox) -> None:
        self.sandbox = sandbox
        self.tracer = OvsTracer(sandbox)
        self.tracer.client.connect()
        self.work = Path(tempfile.mkdtemp(prefix="nt-ovsat-", dir=sandbox.dir))
        self.fdb: dict[str, tuple[MacEntry, ...]] = {}

    def close(self) -> None:
        self.tracer.close()

    # -- state ---------------------------------------------------------------------------
    def reset(self) -> None:
        """No bridges, no Open_vSwitch other_config, a fresh unixctl connection."""
        names = self.sandbox.vsctl("list-br").split()
        argv: list[str] = []
        for n in names:
            argv += ["--", "--if-exists", "del-br", n]
        argv += ["--", "clear", "Open_vSwitch", ".", "other_config"]
        self.sandbox.vsctl(*argv[1:])
        self.tracer.refresh()

    def _ofctl(self, args: list[str], files: dict[str, str], stdin: str | None) -> None:
        for name, text in files.items():
            (self.work / Path(name).name).write_text(text)
        proc = subprocess.run(["ovs-ofctl", *args], cwd=self.work, env=self.sandbox.env,
                              input=stdin, capture_output=True, text=True, check=False,
                              timeout=30)
        if proc.returncode != 0:
            raise BackendError(f"ovs-ofctl {' '.join(args)}: {proc.stderr.strip()}")

    def _appctl(self, args: list[str]) -> str:
        if args[:1] == ["-t"]:
            raise BackendError(f"appctl target {args[1]} is not ovs-vswitchd")
        args = [a for a in args if a not in ("-e", "--")]
        return self.tracer.client.call(args[0], *args[1:])

    def _path_arg(self, arg: str) -> str:
        """An ``ovs-vsctl`` argument with the test's directory made the replay's own (files
        such as ``options:pcap=p1.pcap`` land there, not in the current directory)."""
        arg = arg.replace("{OVS_RUNDIR}", str(self.work))
        m = _FILE_OPTION.match(arg)
        if m and not m.group(2).startswith(("/", "punix:", "unix:", "ptcp:", "tcp:")):
            return f"{m.group(1)}{self.work / m.group(2)}"
        return arg

    def bridges(self) -> list[str]:
        return self.sandbox.vsctl("list-br").split()

    def dump(self, folder: Path) -> dict[str, str]:
        """Write the sandbox's state where a sosreport keeps it; every flow gets a unique
        cookie there and in the sandbox. Returns the original flows per bridge."""
        out = folder / "sos_commands" / "openvswitch"
        out.mkdir(parents=True, exist_ok=True)
        (out / "ovs-vsctl_-t_5_show").write_text(self.sandbox.vsctl("show"))
        (out / "ovs-vsctl_-t_5_list_interface").write_text(self.sandbox.vsctl("list",
                                                                               "interface"))
        (out / "ovs-vsctl_-t_5_list_port").write_text(self.sandbox.vsctl("list", "port"))
        (out / "ovs-vsctl_-t_5_list_mirror").write_text(self.sandbox.vsctl("list", "mirror"))
        (out / "ovs-vsctl_-t_5_list_bridge").write_text(self.sandbox.vsctl("list", "bridge"))
        originals: dict[str, str] = {}
        for bi, br in enumerate(self.bridges()):
            self.sandbox.vsctl("set", "bridge", br, f"protocols={OF_PROTOCOLS}")
            (out / f"ovs-ofctl_show_{br}").write_text(self.sandbox.ofctl("show", br))
            text = self.sandbox.ofctl("-O", "OpenFlow15", "dump-flows", "--no-stats", br)
            originals[br] = text
            lines = [ln for ln in text.splitlines() if ln.strip()
                     and not ln.startswith(("OFPST_", "NXST_", "OFPT_"))]
            unique = "".join(f"cookie={hex(((bi + 1) << 24) | (n + 1))}, "
                             + _COOKIE.sub("", ln).strip() + "\n" for n, ln in enumerate(lines))
            (out / f"ovs-ofctl_-O_OpenFlow15_dump-flows_{br}").write_text(unique)
            self._replace_flows(br, unique)
            (out / f"ovs-appctl_fdb.show_{br}").write_text(self.tracer.client.call("fdb/show",
                                                                                 br))
            groups = self.sandbox.ofctl("-O", "OpenFlow15", "dump-groups", br)
            (out / f"ovs-ofctl_-O_OpenFlow15_dump-groups_{br}").write_text(groups)
        return originals

    def _replace_flows(self, br: str, text: str) -> None:
        path = self.work / f"{br}.flows"
        path.write_text(text)
        self.sandbox.ofctl("-O", "OpenFlow15", "--bundle", "replace-flows", br, str(path))

    def restore(self, originals: dict[str, str]) -> None:
        for br, text in originals.items():
            lines = [ln for ln in text.splitlines() if ln.strip()
                     and not ln.startswith(("OFPST_", "NXST_", "OFPT_"))]
            self._replace_flows(br, "".join(ln.strip() + "\n" for ln in lines))

    # -- one case ------------------------------------------------------------------------
    def run_case(self, file: str, case: dict[str, object]) -> list[Outcome]:
        """Every trace of ``case``, replayed."""
        title = str(case["title"])
        steps = case["steps"]
        assert isinstance(steps, list)
        self.reset()
        st = _State()
        originals: dict[str, str] | None = None
        out: list[Outcome] = []
        needs_restart = False
        for step in steps:
            op = step["op"]
            line = int(step["line"])
            expect_ok = step["status"] == "0"
            if op != "trace" and originals is not None:
                self.restore(originals)
                originals = None
            if op != "trace":
                st.dirty = True
            try:
                if op == "vsctl":
                    self.sandbox.vsctl(*(self._path_arg(str(x)) for x in step["args"]))
                elif op == "ofctl":
                    self._ofctl(list(step["args"]), dict(step.get("files", {})),
                                step.get("stdin"))
                    if "group" in " ".join(step["args"]):
                        st.features.add("groups")
                elif op == "appctl":
                    cmd = step["args"][0] if step["args"] else ""
                    if cmd in _TIME:
                        needs_restart = True
                    self._appctl(list(step["args"]))
                    if cmd == "dpif/set-dp-features":
                        st.features.add(cmd)
                    if cmd.startswith(("netdev-dummy/receive", "fdb/add")):
                        st.features.add("packets received" if "receive" in cmd else "fdb/add")
                elif op == "vswitchd":
                    extra = " ".join(step["args"]).strip()
                    if extra.replace("=override", "").strip():
                        st.features.add(f"vswitchd {extra}")
                elif op in ("unknown_macro", "other", "dpctl", "skip_if", "timeout"):
                    st.features.add(f"{op} {' '.join(map(str, step['args'][:1]))}")
                elif op == "trace":
                    if st.dirty:
                        # after a -generate trace (which learns) the state is dumped again;
                        # the test's own flows are those of the first dump
                        first, reason = self._snapshot(st)
                        originals = originals if originals is not None else first
                    out.append(self._trace(file, line, title, step, st))
                    if step.get("generate"):
                        st.dirty = True
            except (BackendError, subprocess.TimeoutExpired) as exc:
                if op == "trace":
                    # the dump did not go back into OVS with unique cookies (replace-flows)
                    out.append(Outcome(file, line, title, "excluded",
                                       "the dumped flows do not load back into OVS",
                                       detail=str(exc)[:300]))
                    originals = None
                    continue
                if expect_ok and op != "trace" and not st.setup_failed:
                    st.setup_failed = f"{op} at line {line} failed in the sandbox: {exc}"[:300]
        if originals is not None:
            self.restore(originals)
        if needs_restart:
            self._restart()
        return out

    def _restart(self) -> None:
        """A case stopped or warped the clock: a fresh ovs-vswitchd for the next."""
        self.tracer.close()
        self.sandbox.stop()
        self.sandbox.__init__()  # type: ignore[misc]
        self.sandbox.start()
        self.tracer = OvsTracer(self.sandbox)
        self.tracer.client.connect()
        self.work = Path(tempfile.mkdtemp(prefix="nt-ovsat-", dir=self.sandbox.dir))

    def _snapshot(self, st: _State) -> tuple[dict[str, str], str]:
        folder = Path(tempfile.mkdtemp(prefix="sos-", dir=self.work))
        originals = self.dump(folder)
        st.dirty = False
        st.load_error = ""
        fdb_learned = any(len(f.read_text().splitlines()) > 1 for f in
                          (folder / "sos_commands" / "openvswitch").glob("ovs-appctl_fdb.show_*"))
        groups = any("group_id=" in f.read_text() for f in
                     (folder / "sos_commands" / "openvswitch").glob("*dump-groups*"))
        feats = set()
        if fdb_learned:
            feats.add("fdb")
        if groups:
            feats.add("groups")
        try:
            with warnings.catch_warnings():
                # unsupported flows, bridges without flows: the trace's outcome says what
                warnings.simplefilter("ignore", InputWarning)
                bridges = load_sos(folder)
            self.fdb = load_sos_fdb(folder)
        except NeutraceError as exc:
            st.snapshot = None
            st.load_error = _reason(exc)
            st.load_detail = str(exc)[:300]
            return originals, st.load_error
        st.snapshot = (bridges, {}, frozenset(feats))
        return originals, ""

    def _trace(self, file: str, line: int, title: str, step: dict[str, object],
               st: _State) -> Outcome:
        feats = set(st.features)
        if st.snapshot is not None:
            feats |= st.snapshot[2]
        bridge = step.get("bridge")
        flow = str(step.get("flow") or "")
        generate = bool(step.get("generate"))
        if generate:
            feats.add("-generate")
        odp = bridge is None or "(" in flow.split(",")[0] or bridge == "ovs-dummy"
        if odp:
            feats.add("datapath flow")

        def outcome(status: str, reason: str = "", **kw: object) -> Outcome:
            return Outcome(file, line, title, status, reason, features=tuple(sorted(feats)),
                           **kw)  # type: ignore[arg-type]

        if step["status"] != "0":
            return outcome("excluded", "an error case (OVS's test expects ofproto/trace to fail)")
        if st.setup_failed:
            return outcome("excluded", "setup failed in the sandbox", detail=st.setup_failed)
        if step.get("packet"):
            return outcome("excluded", "the packet is given as bytes")
        if "dpif/set-dp-features" in st.features:
            return outcome("excluded", "datapath features changed by dpif/set-dp-features "
                           "(a dump does not hold them)")
        args = [str(a) for a in step["args"]]  # type: ignore[union-attr]
        options = [str(o) for o in step.get("options") or ()]  # type: ignore[attr-defined]
        if any(o != "--ct-next" for o in options):
            return outcome("excluded", f"ofproto/trace options {options}")
        ct_next = tuple(args[i + 1] for i, a in enumerate(args[:-1]) if a == "--ct-next")
        if ct_next:
            feats.add("--ct-next")
        try:
            text = self.tracer.client.call("ofproto/trace", *args)
        except BackendError as exc:
            return outcome("excluded", "OVS refused the trace", detail=str(exc)[:300])
        try:
            real = self.tracer.parse(text)
        except NeutraceError as exc:
            return outcome("refused", "cannot read OVS's trace: " + _reason(exc),
                           detail=str(exc)[:300] + "\n" + text[:1500])
        if st.load_error or st.snapshot is None:
            return outcome("load", st.load_error or "no dump", detail=st.load_detail)
        bridges = st.snapshot[0]
        if odp:
            microflow = real.trace.passes[0].flow
            bname = real.trace.passes[0].bridges[0] if real.trace.passes[0].bridges else None
        else:
            microflow, bname = flow, str(bridge)
        try:
            start = start_point(bridges, microflow, bname)
            state = fdb_state(bridges, self.fdb) if self.fdb else OpenFlowState()
            visit = OpenFlowEngine(bridges).run(
                start.bridge, start.in_port, start.packet, state,
                ct_next=tuple(ct_state_bits(f) for f in ct_next) if ct_next else None,
                generate=generate, metadata=start.metadata)
            ours = observe_engine(visit, bridges)
            theirs = observe_ovs(real, start.packet, bridges)
        except NeutraceError as exc:
            return outcome("refused", _reason(exc), detail=str(exc)[:300])
        except Exception as exc:  # noqa: BLE001 - an engine crash is a finding, counted
            import traceback
            return outcome("refused", f"engine error {type(exc).__name__}",
                           detail=str(exc)[:300] + "\n" + traceback.format_exc()[-DETAIL_LIMIT:])
        parts = (("tables", ours.visits == theirs.visits),
                 ("outputs", ours.outputs == theirs.outputs
                  and ours.tunnel_ids == theirs.tunnel_ids),
                 ("final", ours.final == theirs.final))
        if all(ok for _, ok in parts):
            return outcome("agree", parts=parts)
        return outcome("differ", parts=parts,
                       detail="\n".join(ours.differences(theirs))[:DETAIL_LIMIT])


def _reason(exc: NeutraceError) -> str:
    """A short, case-independent reason: the problem without the values that vary."""
    text = exc.problem if isinstance(exc, InputError) else str(exc)
    text = re.sub(r"^actions=\S*: ", "", text.splitlines()[0])
    text = re.sub(r" in '[^']*'", "", text)
    return re.sub(r"0x[0-9a-f]+|\b\d+\b", "N", text)[:120]


def replay(sandbox: OvsSandbox, files: Iterable[str] | None = None) -> list[Outcome]:
    """Every case of ``files`` (all when None) replayed in ``sandbox``."""
    rp = Replayer(sandbox)
    out: list[Outcome] = []
    try:
        for file, case in cases(files):
            out.extend(rp.run_case(file, case))
    finally:
        rp.close()
        rp.reset()
    return out


@dataclass(frozen=True)
class Agreement:
    """Percentages of the counted traces (excluded ones aside) on which the engine agrees."""

    counted: int
    excluded: int
    parts: tuple[tuple[str, float], ...]
    all_parts: float
    load: float

    def part(self, name: str) -> float:
        return dict(self.parts)[name]


def agreement(outcomes: Iterable[Outcome]) -> Agreement:
    """The agreement over ``outcomes`` (a trace that does not load or is refused disagrees)."""
    outs = list(outcomes)
    counted = [o for o in outs if o.counted]
    n = len(counted) or 1

    def pct(k: int) -> float:
        return round(100.0 * k / n, 1)

    return Agreement(
        counted=len(counted), excluded=len(outs) - len(counted),
        parts=tuple((p, pct(sum(o.agrees(p) for o in counted))) for p in PARTS),
        all_parts=pct(sum(o.status == "agree" for o in counted)),
        load=pct(sum(o.status == "load" for o in counted)),
    )


def report(outcomes: list[Outcome]) -> str:
    """Agreement per file, per feature, and the reasons, as a text table."""
    lines = []

    def row(label: str, outs: list[Outcome]) -> str:
        a = agreement(outs)
        parts = "  ".join(f"{p} {a.part(p):5.1f}%" for p in PARTS)
        return (f"{label:34} {a.counted:5} traced {a.excluded:4} excluded  {parts}  "
                f"all {a.all_parts:5.1f}%  load-fail {a.load:4.1f}%")

    lines.append(row("ALL", outcomes))
    for f in sorted({o.file for o in outcomes}):
        lines.append(row(f, [o for o in outcomes if o.file == f]))
    lines.append("")
    feats = Counter(ft for o in outcomes for ft in o.features)
    for ft, _ in feats.most_common():
        lines.append(row(f"with {ft}"[:34], [o for o in outcomes if ft in o.features]))
    lines.append("")
    reasons = Counter((o.status, o.reason) for o in outcomes if o.status not in ("agree",
                                                                                  "differ"))
    for (status, reason), k in reasons.most_common():
        lines.append(f"{k:5}  {status:9} {reason}")
    differ = Counter(tuple(p for p, ok in o.parts if not ok) for o in outcomes
                     if o.status == "differ")
    for parts, k in differ.most_common():
        lines.append(f"{k:5}  differ    on {', '.join(parts)}")
    return "\n".join(lines)
