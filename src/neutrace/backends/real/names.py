"""Names of the real backend (layer 3): every name that reaches a command is checked here first.

Interface names come from the `HostState` (a topology file's names end up in them) and must be
safe Linux device names: at most 15 characters (``IFNAMSIZ - 1``) of letters, digits, ``_``, ``.``
and ``-``, starting with a letter or digit. Namespace names are derived from a run's prefix
(``nt-<token>-``) and the host, namespace and outside-host names, with the same alphabet (at most
`NETNS_MAX` characters). `KernelNames` computes them all for one run and refuses collisions.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from neutrace.errors import InputError

IFNAMSIZ = 15
NETNS_MAX = 200
PREFIX_ROOT = "nt-"

_IFNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_RUN_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
_PREFIX_RE = re.compile(r"^nt-[0-9a-f]{6}-$")


class NameError_(InputError):  # noqa: N801 - "NameError" is a builtin
    """A name the real backend cannot give to the kernel as it is."""


def check_ifname(name: str, where: str, source: str = "cloud state") -> str:
    """``name`` if it is a safe Linux interface name, else `NameError_` naming ``where``."""
    if not _IFNAME_RE.match(name) or name in (".", ".."):
        raise NameError_(source, where, f"interface name {name!r} is not a safe Linux device "
                         f"name (at most {IFNAMSIZ} characters of letters, digits, '_', '.', '-')",
                         "rename it in the topology file")
    return name


def check_token(name: str, where: str, source: str = "cloud state") -> str:
    """``name`` if it can be part of a namespace or directory name (no '/', no spaces)."""
    if not _TOKEN_RE.match(name) or len(name) > NETNS_MAX // 2 or ".." in name:
        raise NameError_(source, where, f"name {name!r} cannot be part of a namespace name "
                         "(letters, digits, '_', '.', '-' only, no '..')",
                         "rename it in the topology file")
    return name


def check_run_name(name: str) -> str:
    """A run's name (by default the cloud's name): lower-case, short, safe for a directory."""
    if not _RUN_RE.match(name) or ".." in name:
        raise NameError_("--name", "", f"run name {name!r} is not usable (at most 40 characters "
                         "of lower-case letters, digits, '_', '.', '-')",
                         "give --name with such a name")
    return name


def check_prefix(prefix: str) -> str:
    """A run prefix as `new_prefix` makes them (``nt-`` and 6 hex digits and ``-``): the only
    namespaces `down` removes are the ones that start with it."""
    if not _PREFIX_RE.match(prefix):
        raise NameError_("run record", "prefix", f"run prefix {prefix!r} is not one neutrace makes",
                         "remove the run directory by hand after checking it")
    return prefix


def new_prefix() -> str:
    """A fresh run prefix (``nt-`` + 6 random hex digits + ``-``)."""
    return f"{PREFIX_ROOT}{secrets.token_hex(3)}-"


@dataclass(frozen=True, slots=True)
class KernelNames:
    """The kernel namespace names of one run: ``<prefix><host>`` for a host's root namespace,
    ``<prefix><host>.<namespace>`` for its qrouter/qdhcp/VM namespaces, ``<prefix>out.<name>`` for
    an outside namespace and ``<prefix>wire`` for the segments' namespace."""

    prefix: str

    def host(self, host: str) -> str:
        """The namespace that is ``host``'s root namespace."""
        return self._ok(f"{self.prefix}{host}")

    def inner(self, host: str, namespace: str) -> str:
        """The namespace of ``host``'s namespace ``namespace`` (``""``: the host's own)."""
        if not namespace:
            return self.host(host)
        return self._ok(f"{self.prefix}{host}.{namespace}")

    def outside(self, name: str) -> str:
        """The namespace of the outside namespace ``name`` (upstream gateway, outside host)."""
        return self._ok(f"{self.prefix}out.{name}")

    @property
    def wire(self) -> str:
        """The namespace holding one Linux bridge per segment."""
        return self._ok(f"{self.prefix}wire")

    @staticmethod
    def _ok(name: str) -> str:
        if len(name) > NETNS_MAX:
            raise NameError_("cloud state", name[:40] + "...", "namespace name too long",
                             "use shorter host and namespace names")
        return name


def owned_by(prefix: str, netns: str) -> bool:
    """True if ``netns`` belongs to the run with ``prefix`` (and nothing else)."""
    return bool(_PREFIX_RE.match(prefix)) and netns.startswith(prefix)
