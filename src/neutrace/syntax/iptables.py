"""iptables-save / ip6tables-save and ``ipset save`` text (layer 2): parse and format.

The model is plain frozen data, close to what ``iptables-save`` prints:

- `Ruleset` (one save text): `Table` s (``*filter`` ... ``COMMIT``), each with its `Chain` s
  (``:INPUT ACCEPT [0:0]``; a user chain has policy ``None``, printed ``-``) and its rules;
- `IptRule`: the chain it is appended to, its `Match` es (the base matches ``-s -d -i -o -p -f``
  under module ``""``, then one `Match` per ``-m module``), and its `Target` (``-j`` or ``-g``),
  each made of `Option` s (name, values, ``!`` negation);
- `IpSet` / `IpSets` for ``ipset save`` (``create`` and ``add`` lines).

``parse_iptables_save(format_iptables_save(r)) == r`` and the same for ipsets. The line a rule came
from (`IptRule.line`) and the source name are kept for messages and traces but do not take part in
equality. Only the match modules, options and targets Neutron and the Linux engines use are
accepted; anything else is a `SyntaxParseError` naming the source, the line and the fix, so a rule
is never silently mis-read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from neutrace.errors import SyntaxParseError
from neutrace.syntax.text import cut, lines

# -- the vocabulary: option name -> number of values ---------------------------------------------

BASE_OPTIONS: dict[str, int] = {
    "-s": 1, "--source": 1, "--src": 1,
    "-d": 1, "--destination": 1, "--dst": 1,
    "-i": 1, "--in-interface": 1,
    "-o": 1, "--out-interface": 1,
    "-p": 1, "--protocol": 1,
    "-f": 0, "--fragment": 0,
}
# long base option -> the short name iptables-save prints
BASE_CANONICAL = {
    "--source": "-s", "--src": "-s", "--destination": "-d", "--dst": "-d",
    "--in-interface": "-i", "--out-interface": "-o", "--protocol": "-p", "--fragment": "-f",
}

MATCH_MODULES: dict[str, dict[str, int]] = {
    "tcp": {
        "--sport": 1, "--source-port": 1, "--dport": 1, "--destination-port": 1,
        "--tcp-flags": 2, "--syn": 0, "--tcp-option": 1,
    },
    "udp": {"--sport": 1, "--source-port": 1, "--dport": 1, "--destination-port": 1},
    "udplite": {"--sport": 1, "--source-port": 1, "--dport": 1, "--destination-port": 1},
    "sctp": {"--sport": 1, "--source-port": 1, "--dport": 1, "--destination-port": 1},
    "dccp": {"--sport": 1, "--source-port": 1, "--dport": 1, "--destination-port": 1},
    "icmp": {"--icmp-type": 1},
    "icmp6": {"--icmpv6-type": 1},
    "multiport": {
        "--dports": 1, "--destination-ports": 1, "--sports": 1, "--source-ports": 1, "--ports": 1,
    },
    "state": {"--state": 1},
    "conntrack": {
        "--ctstate": 1, "--ctstatus": 1, "--ctdir": 1, "--ctproto": 1,
        "--ctorigsrc": 1, "--ctorigdst": 1, "--ctreplsrc": 1, "--ctrepldst": 1,
        "--ctorigsrcport": 1, "--ctorigdstport": 1, "--ctreplsrcport": 1, "--ctrepldstport": 1,
    },
    "physdev": {
        "--physdev-in": 1, "--physdev-out": 1, "--physdev-is-bridged": 0,
        "--physdev-is-in": 0, "--physdev-is-out": 0,
    },
    "mac": {"--mac-source": 1},
    "set": {"--match-set": 2, "--return-nomatch": 0},
    "mark": {"--mark": 1},
    "connmark": {"--mark": 1},
    "comment": {"--comment": 1},
    "addrtype": {"--src-type": 1, "--dst-type": 1, "--limit-iface-in": 0, "--limit-iface-out": 0},
    "limit": {"--limit": 1, "--limit-burst": 1},
    "iprange": {"--src-range": 1, "--dst-range": 1},
    "pkttype": {"--pkt-type": 1},
    "dscp": {"--dscp": 1, "--dscp-class": 1},
    "ttl": {"--ttl-eq": 1, "--ttl-lt": 1, "--ttl-gt": 1},
    "hl": {"--hl-eq": 1, "--hl-lt": 1, "--hl-gt": 1},
}

TARGETS: dict[str, dict[str, int]] = {
    "ACCEPT": {},
    "DROP": {},
    "RETURN": {},
    "REJECT": {"--reject-with": 1},
    "LOG": {
        "--log-prefix": 1, "--log-level": 1, "--log-tcp-sequence": 0, "--log-tcp-options": 0,
        "--log-ip-options": 0, "--log-uid": 0, "--log-macdecode": 0,
    },
    "SNAT": {"--to-source": 1, "--random": 0, "--random-fully": 0, "--persistent": 0},
    "DNAT": {"--to-destination": 1, "--random": 0, "--persistent": 0},
    "MASQUERADE": {"--to-ports": 1, "--random": 0, "--random-fully": 0},
    "REDIRECT": {"--to-ports": 1, "--random": 0},
    "MARK": {"--set-xmark": 1, "--set-mark": 1, "--and-mark": 1, "--or-mark": 1, "--xor-mark": 1},
    "CONNMARK": {
        "--save-mark": 0, "--restore-mark": 0, "--set-xmark": 1, "--set-mark": 1,
        "--and-mark": 1, "--or-mark": 1, "--xor-mark": 1, "--nfmask": 1, "--ctmask": 1,
        "--mask": 1,
    },
    "CT": {"--zone": 1, "--zone-orig": 1, "--zone-reply": 1, "--notrack": 0},
    "NOTRACK": {},
    "CHECKSUM": {"--checksum-fill": 0},
    "DSCP": {"--set-dscp": 1, "--set-dscp-class": 1},
    "TCPMSS": {"--set-mss": 1, "--clamp-mss-to-pmtu": 0},
}

BUILTIN_CHAINS: dict[str, tuple[str, ...]] = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}

_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_\-./:,+=@%^*!\[\]]+$")
_COUNTERS = re.compile(r"\[([0-9]+):([0-9]+)\]")
_COUNTER_MAX = (1 << 64) - 1  # the kernel's counters are 64-bit


# -- the model -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    """One option: ``--dport 22`` is ``Option("--dport", ("22",))``; ``! -s 10.0.0.0/8`` has
    ``negated=True``. Values are unquoted."""

    name: str
    values: tuple[str, ...] = ()
    negated: bool = False

    @property
    def value(self) -> str:
        return self.values[0] if self.values else ""


@dataclass(frozen=True, slots=True)
class Match:
    """The options of one match module (``""`` for the base matches -s/-d/-i/-o/-p/-f)."""

    module: str
    options: tuple[Option, ...]

    def option(self, name: str) -> Option | None:
        for o in self.options:
            if o.name == name:
                return o
        return None


@dataclass(frozen=True, slots=True)
class Target:
    """``-j NAME options`` (``goto=True`` for ``-g``). ``NAME`` is a built-in target or a user
    chain of the same table."""

    name: str
    options: tuple[Option, ...] = ()
    goto: bool = False

    def option(self, name: str) -> Option | None:
        for o in self.options:
            if o.name == name:
                return o
        return None


@dataclass(frozen=True, slots=True)
class IptRule:
    """One ``-A CHAIN ...`` line. ``target`` is None for a rule without ``-j`` (it only counts).
    ``line`` is the 1-based line in the text it was parsed from (0 when built by hand)."""

    chain: str
    matches: tuple[Match, ...] = ()
    target: Target | None = None
    counters: tuple[int, int] | None = None
    line: int = field(default=0, compare=False)

    @property
    def text(self) -> str:
        """The rule as iptables-save prints it (``-A CHAIN ...``)."""
        return format_rule(self)

    def options(self) -> Iterator[tuple[str, Option]]:
        """Every match option with its module."""
        for m in self.matches:
            for o in m.options:
                yield m.module, o


@dataclass(frozen=True, slots=True)
class Chain:
    """``:NAME POLICY [packets:bytes]``; ``policy`` is None for a user-defined chain."""

    name: str
    policy: str | None = None
    counters: tuple[int, int] = (0, 0)


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    chains: tuple[Chain, ...] = ()
    rules: tuple[IptRule, ...] = ()

    def chain(self, name: str) -> Chain | None:
        for c in self.chains:
            if c.name == name:
                return c
        return None

    def rules_of(self, chain: str) -> tuple[IptRule, ...]:
        return tuple(r for r in self.rules if r.chain == chain)


@dataclass(frozen=True, slots=True)
class Ruleset:
    """One iptables-save (or ip6tables-save) text. ``source`` names where it came from."""

    tables: tuple[Table, ...] = ()
    source: str = field(default="<string>", compare=False)

    def table(self, name: str) -> Table | None:
        for t in self.tables:
            if t.name == name:
                return t
        return None


@dataclass(frozen=True, slots=True)
class IpSet:
    """One ``create NAME TYPE OPTIONS...`` with its ``add NAME ENTRY...`` members (each member is
    the entry text after the set name, e.g. ``"10.0.0.5"`` or ``"10.0.0.0/24 timeout 0"``)."""

    name: str
    type: str
    options: tuple[str, ...] = ()
    members: tuple[str, ...] = ()

    @property
    def family(self) -> str:
        opts = list(self.options)
        if "family" in opts and opts.index("family") + 1 < len(opts):
            return opts[opts.index("family") + 1]
        return "inet"

    def elements(self) -> tuple[str, ...]:
        """The member elements without their per-entry options."""
        return tuple(m.split()[0] for m in self.members if m.split())


@dataclass(frozen=True, slots=True)
class IpSets:
    sets: tuple[IpSet, ...] = ()
    source: str = field(default="<string>", compare=False)

    def get(self, name: str) -> IpSet | None:
        for s in self.sets:
            if s.name == name:
                return s
        return None


# -- formatting ----------------------------------------------------------------------------------


def _quote(value: str) -> str:
    if _SAFE_VALUE.match(value) and value != "!":  # a bare ! would read back as a negation
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _format_option(opt: Option) -> str:
    parts = (["!"] if opt.negated else []) + [opt.name] + [_quote(v) for v in opt.values]
    return " ".join(parts)


def format_rule(rule: IptRule) -> str:
    """``-A CHAIN [base matches] [-m module options]... [-j|-g TARGET options]``."""
    parts: list[str] = []
    if rule.counters is not None:
        parts.append(f"[{rule.counters[0]}:{rule.counters[1]}]")
    parts += ["-A", _quote(rule.chain)]
    for m in rule.matches:
        if m.module:
            parts += ["-m", m.module]
        parts += [_format_option(o) for o in m.options]
    if rule.target is not None:
        parts += ["-g" if rule.target.goto else "-j", _quote(rule.target.name)]
        parts += [_format_option(o) for o in rule.target.options]
    return " ".join(parts)


def format_iptables_save(ruleset: Ruleset) -> str:
    """The text ``iptables-restore`` reads (iptables-save's layout, without its comment lines)."""
    out: list[str] = []
    for table in ruleset.tables:
        out.append(f"*{table.name}")
        for c in table.chains:
            out.append(f":{c.name} {c.policy or '-'} [{c.counters[0]}:{c.counters[1]}]")
        out += [format_rule(r) for r in table.rules]
        out.append("COMMIT")
    return "\n".join(out) + ("\n" if out else "")


def format_ipset_save(ipsets: IpSets) -> str:
    out: list[str] = []
    for s in ipsets.sets:
        out.append(" ".join(["create", s.name, s.type, *s.options]))
        out += [f"add {s.name} {m}" for m in s.members]
    return "\n".join(out) + ("\n" if out else "")


# -- parsing -------------------------------------------------------------------------------------


def _err(source: str, lineno: int, problem: str, fix: str) -> SyntaxParseError:
    return SyntaxParseError(source, f"line {lineno}", problem, fix, line=lineno)


class _Quoted(str):
    """A token that was quoted (``"!"`` is a value, a bare ``!`` a negation)."""

    __slots__ = ()


# One shell-like word (shlex's POSIX rules, which iptables-save's quoting follows): runs of plain
# characters, backslash escapes, "double quoted" (backslash escapes only " and \) and 'single
# quoted' parts. One regex pass, so that tokenizing stays linear in the line's length.
_WORD = re.compile(r"""(?:[^ \t\r\n\\'"]+|\\.|"[^"\\]*(?:\\.[^"\\]*)*"|'[^']*')+""", re.S)
_PART = re.compile(r"""[^\\'"]+|\\(.)|"([^"\\]*(?:\\.[^"\\]*)*)"|'([^']*)'""", re.S)
_DQ_ESCAPE = re.compile(r'\\([\\"])')
_BLANK = re.compile(r"[ \t\r\n]+")


def _split(source: str, lineno: int, text: str) -> list[str]:
    """The words of a rule line, quotes removed (quoted words are `_Quoted`)."""
    if '"' not in text and "'" not in text and "\\" not in text:
        return _BLANK.split(text.strip(" \t\r\n")) if text.strip(" \t\r\n") else []
    out: list[str] = []
    pos, end = 0, len(text)
    while pos < end:
        blank = _BLANK.match(text, pos)
        if blank is not None:
            pos = blank.end()
            continue
        m = _WORD.match(text, pos)
        if m is None or m.end() < end and text[m.end()] not in " \t\r\n":
            at = pos if m is None else m.end()
            if text[at] == "\\":
                raise _err(source, lineno, f"a backslash at the end of the line (column "
                           f"{at + 1}) escapes nothing", "remove it or escape it (\\\\)")
            raise _err(source, lineno, f"no closing quotation ({text[at]} at column {at + 1})",
                       "close the quotes")
        word = m.group(0)
        pos = m.end()
        if '"' not in word and "'" not in word and "\\" not in word:
            out.append(word)
            continue
        pieces: list[str] = []
        for part in _PART.finditer(word):
            if part.group(1) is not None:
                pieces.append(part.group(1))
            elif part.group(2) is not None:
                pieces.append(_DQ_ESCAPE.sub(r"\1", part.group(2)))
            elif part.group(3) is not None:
                pieces.append(part.group(3))
            else:
                pieces.append(part.group(0))
        out.append(_Quoted("".join(pieces)))
    return out


def _plain(token: str) -> str:
    return str.__str__(token)


def _counters(source: str, lineno: int, text: str) -> tuple[int, int] | None:
    """``[packets:bytes]`` as two numbers (None when ``text`` is not counters)."""
    m = _COUNTERS.fullmatch(text)
    if m is None:
        return None
    if len(m.group(1)) > 20 or len(m.group(2)) > 20 or max(
            int(m.group(1)), int(m.group(2))) > _COUNTER_MAX:
        raise _err(source, lineno, f"counters {cut(text)} are past 64 bits",
                   "write [packets:bytes] as iptables-save prints them")
    return int(m.group(1)), int(m.group(2))


def _bang(token: str) -> bool:
    return token == "!" and not isinstance(token, _Quoted)


def parse_rule_tokens(
    chain: str, tokens: list[str], source: str = "<string>", lineno: int = 0,
    user_chains: frozenset[str] | None = None,
) -> IptRule:
    """Parse the tokens after ``-A CHAIN``. ``user_chains`` (when given) are the chains a ``-j``
    may name besides the built-in targets."""
    base: list[Option] = []
    matches: list[Match] = []
    cur_module: str | None = None
    cur_opts: list[Option] = []
    protocol = ""
    target: Target | None = None

    def close_module() -> None:
        nonlocal cur_module, cur_opts
        if cur_module is not None:
            matches.append(Match(cur_module, tuple(cur_opts)))
        cur_module, cur_opts = None, []

    def take(i: int, n: int, name: str) -> tuple[list[str], bool, int]:
        """Values of an option at tokens[i] (its name), with legacy ``--opt ! value``."""
        j = i + 1
        negated = False
        if n > 0 and j < len(tokens) and _bang(tokens[j]):
            negated, j = True, j + 1
        vals = [_plain(t) for t in tokens[j : j + n]]
        if len(vals) < n:
            raise _err(source, lineno, f"option {name} needs {n} value(s)",
                       f"write {name} followed by its value")
        return vals, negated, j + n

    i = 0
    negate = False
    while i < len(tokens):
        tok = tokens[i]
        if _bang(tok):
            if negate:
                raise _err(source, lineno, "'!' twice in a row", "remove one '!'")
            negate = True
            i += 1
            continue
        if tok in ("-m", "--match"):
            if negate:
                raise _err(source, lineno, "'!' before -m", "put '!' before the module's option")
            if i + 1 >= len(tokens):
                raise _err(source, lineno, "-m without a module name", "name the match module")
            module = _plain(tokens[i + 1])
            if module == "icmpv6":
                module = "icmp6"
            if module not in MATCH_MODULES:
                raise _err(source, lineno, f"unknown match module -m {cut(module)}",
                           f"use one of: {', '.join(sorted(MATCH_MODULES))}")
            close_module()
            cur_module = module
            i += 2
            continue
        if tok in ("-j", "--jump", "-g", "--goto"):
            if negate:
                raise _err(source, lineno, "'!' before a target", "remove the '!'")
            if i + 1 >= len(tokens):
                raise _err(source, lineno, f"{tok} without a target", "name the target or chain")
            name = _plain(tokens[i + 1])
            goto = tok in ("-g", "--goto")
            spec = TARGETS.get(name)
            if spec is None:
                if user_chains is not None and name not in user_chains:
                    raise _err(
                        source, lineno, f"unknown target or chain {cut(name)!r}",
                        f"declare ':{cut(name)} - [0:0]' in this table or use one of: "
                        f"{', '.join(sorted(TARGETS))}",
                    )
                spec = {}
            elif goto:
                raise _err(source, lineno, f"-g needs a user chain, not {name}", f"use -j {name}")
            topts: list[Option] = []
            j = i + 2
            while j < len(tokens):
                t = tokens[j]
                if t not in spec:
                    raise _err(source, lineno, f"unknown option {cut(t)!r} of target {name}",
                               f"options of {name}: {', '.join(spec) or 'none'}")
                vals, neg, j = take(j, spec[t], t)
                if neg:
                    raise _err(source, lineno, f"'!' in target option {t}", "remove the '!'")
                topts.append(Option(t, tuple(vals)))
            target = Target(name, tuple(topts), goto)
            break
        # an option of the current module, a base option, or an implicit protocol module
        if cur_module is not None and tok in MATCH_MODULES[cur_module]:
            vals, neg, i = take(i, MATCH_MODULES[cur_module][tok], tok)
            cur_opts.append(Option(tok, tuple(vals), negate or neg))
        elif tok in BASE_OPTIONS:
            vals, neg, i = take(i, BASE_OPTIONS[tok], tok)
            name = BASE_CANONICAL.get(tok, tok)
            if name == "-p":
                protocol = vals[0].lower()
            base.append(Option(name, tuple(vals), negate or neg))
        elif protocol in ("tcp", "udp", "icmp", "sctp", "dccp", "udplite") and (
            tok in MATCH_MODULES[protocol]
        ):
            # iptables loads the protocol's module implicitly: -p tcp --dport 22
            close_module()
            cur_module = protocol
            vals, neg, i = take(i, MATCH_MODULES[protocol][tok], tok)
            cur_opts.append(Option(tok, tuple(vals), negate or neg))
        else:
            where = f"-m {cur_module}" if cur_module else "the base matches"
            raise _err(
                source, lineno, f"unknown option {cut(tok)!r} (after {where})",
                "check the spelling; neutrace understands the match modules "
                f"{', '.join(sorted(MATCH_MODULES))}",
            )
        negate = False
    if negate:
        raise _err(source, lineno, "'!' at the end of the rule", "remove the trailing '!'")
    close_module()
    all_matches = ((Match("", tuple(base)),) if base else ()) + tuple(matches)
    return IptRule(chain, all_matches, target, None, lineno)


def parse_rule(text: str, source: str = "<string>", lineno: int = 0) -> IptRule:
    """One ``-A CHAIN ...`` line (optionally preceded by ``[packets:bytes]``)."""
    tokens = _split(source, lineno, text)
    counters = _counters(source, lineno, tokens[0]) if tokens else None
    if counters is not None:
        tokens = tokens[1:]
    if len(tokens) < 2 or tokens[0] not in ("-A", "--append"):
        raise _err(source, lineno, f"not a rule: {cut(text)!r}",
                   "a rule line starts with -A CHAIN")
    rule = parse_rule_tokens(_plain(tokens[1]), tokens[2:], source, lineno)
    return IptRule(rule.chain, rule.matches, rule.target, counters, lineno)


def parse_iptables_save(text: str, source: str = "<string>") -> Ruleset:
    """Parse iptables-save / ip6tables-save output (or an iptables-restore input)."""
    tables: list[Table] = []
    cur: str | None = None
    cur_line = 0
    chains: list[Chain] = []
    raw_rules: list[tuple[int, str]] = []
    seen: set[str] = set()
    chain_names: set[str] = set()

    def finish(lineno: int) -> None:
        assert cur is not None
        names = {c.name for c in chains}
        user = frozenset(c.name for c in chains if c.policy is None)
        rules: list[IptRule] = []
        for ln, body in raw_rules:
            tokens = _split(source, ln, body)
            counters = _counters(source, ln, tokens[0]) if tokens else None
            if counters is not None:
                tokens = tokens[1:]
            if len(tokens) < 2 or tokens[0] not in ("-A", "--append"):
                raise _err(source, ln, f"not a rule: {cut(body)!r}",
                           "inside a table only ':CHAIN', '-A CHAIN ...' and COMMIT are allowed")
            chain = _plain(tokens[1])
            if chain not in names:
                raise _err(source, ln, f"rule appended to undeclared chain {cut(chain)!r} in "
                           f"*{cur}",
                           f"add ':{chain} - [0:0]' before the rules of *{cur}")
            r = parse_rule_tokens(chain, tokens[2:], source, ln, user)
            rules.append(IptRule(r.chain, r.matches, r.target, counters, ln))
        tables.append(Table(cur, tuple(chains), tuple(rules)))

    for idx, raw in enumerate(lines(text, source), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            if cur is not None:
                raise _err(source, idx, f"table *{cut(line[1:])} starts before *{cur} was "
                           "committed",
                           f"add COMMIT after the rules of *{cur}")
            name = line[1:].strip()
            if name not in BUILTIN_CHAINS:
                raise _err(source, idx, f"unknown table *{cut(name)}",
                           f"use one of: {', '.join(BUILTIN_CHAINS)}")
            if name in seen:
                raise _err(source, idx, f"table *{name} appears twice", "merge the two sections")
            seen.add(name)
            cur, cur_line, chains, raw_rules = name, idx, [], []
            chain_names = set()
            continue
        if cur is None:
            raise _err(source, idx, f"{cut(line)!r} outside a table",
                       "start a table with *filter etc.")
        if line == "COMMIT":
            finish(idx)
            cur = None
            continue
        if line.startswith(":"):
            parts = line[1:].split()
            if len(parts) not in (2, 3):
                raise _err(source, idx, f"bad chain line {cut(line)!r}",
                           "write ':NAME POLICY [0:0]' (POLICY '-' for a user chain)")
            name, policy = parts[0], parts[1]
            counters = (0, 0)
            if len(parts) == 3:
                read = _counters(source, idx, parts[2])
                if read is None:
                    raise _err(source, idx, f"bad counters {cut(parts[2])!r}",
                               "write [packets:bytes]")
                counters = read
            builtin = name in BUILTIN_CHAINS[cur]
            if builtin and policy not in ("ACCEPT", "DROP"):
                raise _err(source, idx, f"built-in chain {cut(name)} needs policy ACCEPT or DROP",
                           f"write ':{name} ACCEPT [0:0]'")
            if not builtin and policy != "-":
                raise _err(source, idx, f"user chain {cut(name)} cannot have policy {cut(policy)}",
                           f"write ':{name} - [0:0]'")
            if name in chain_names:
                raise _err(source, idx, f"chain {cut(name)} declared twice",
                           "remove one declaration")
            chain_names.add(name)
            chains.append(Chain(name, policy if builtin else None, counters))
            continue
        raw_rules.append((idx, line))
    if cur is not None:
        raise _err(source, cur_line, f"table *{cur} has no COMMIT", "end the table with COMMIT")
    return Ruleset(tuple(tables), source)


def parse_ipset_save(text: str, source: str = "<string>") -> IpSets:
    """Parse ``ipset save`` output: ``create NAME TYPE OPTS`` then ``add NAME ENTRY``."""
    order: list[str] = []
    heads: dict[str, tuple[str, tuple[str, ...]]] = {}
    members: dict[str, list[str]] = {}
    for idx, raw in enumerate(lines(text, source), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = line.split()
        if tokens[0] in ("create", "-N") and len(tokens) >= 3:
            name = tokens[1]
            if name in heads:
                raise _err(source, idx, f"set {name} created twice", "remove one create line")
            heads[name] = (tokens[2], tuple(tokens[3:]))
            order.append(name)
            members[name] = []
        elif tokens[0] in ("add", "-A") and len(tokens) >= 3:
            name = tokens[1]
            if name not in heads:
                raise _err(source, idx, f"add to set {name} before it is created",
                           f"put 'create {name} ...' before its members")
            members[name].append(" ".join(tokens[2:]))
        else:
            raise _err(source, idx, f"not an ipset save line: {cut(line)!r}",
                       "lines are 'create NAME TYPE OPTIONS' or 'add NAME ENTRY'")
    return IpSets(
        tuple(IpSet(n, heads[n][0], heads[n][1], tuple(members[n])) for n in order), source
    )
