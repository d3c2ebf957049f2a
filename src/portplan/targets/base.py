"""What every firewall target is: its capabilities, its options, its contract.

A target turns a :class:`~portplan.plan.Plan` into files (host rulesets, policies, ACLs).
Rendering is pure: ``render(plan, options)`` reads the plan and returns ``{file name: text}``
in a stable order; nothing is done in ``__init__`` and the plan is never changed.

Each target declares what it can express (:class:`Capability`).  A plan that needs something a
target cannot express is refused with :class:`~portplan._errors.TargetError` rather than turned
into a broader rule.  A host target that can also be applied on a machine names its
:class:`Applier` (``Target.applier``): applying is a capability of the target, not a separate
plugin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from portplan._errors import TargetError
from portplan.plan import Plan

__all__ = [
    "COMMON_CAPABILITIES",
    "LINUX_HOST_CAPABILITIES",
    "STATEFUL_CAPABILITIES",
    "Applier",
    "Capability",
    "DefaultAction",
    "RuleOptions",
    "Scope",
    "Target",
]


class Capability(StrEnum):
    """Something a target can express."""

    PORT_RANGES = "port-ranges"
    UDP = "udp"
    IPV6 = "ipv6"
    EGRESS = "egress"
    LOOPBACK = "loopback"
    ADDRESS_SETS = "address-sets"
    STATEFUL = "stateful"
    COMMENTS = "comments"
    RPC_KEYWORDS = "rpc-keywords"


#: what every built-in target can express
COMMON_CAPABILITIES = frozenset(
    {
        Capability.PORT_RANGES,
        Capability.UDP,
        Capability.IPV6,
        Capability.EGRESS,
        Capability.COMMENTS,
    }
)
#: ... and stateful: replies pass without a rule of their own (policies, security groups)
STATEFUL_CAPABILITIES = COMMON_CAPABILITIES | {Capability.STATEFUL}
#: ... and loopback rules and address sets: the Linux host firewalls (nftables, iptables)
LINUX_HOST_CAPABILITIES = STATEFUL_CAPABILITIES | {Capability.LOOPBACK, Capability.ADDRESS_SETS}


class Scope(StrEnum):
    """What one rendering covers."""

    HOST = "host"  #: one ruleset per host (nftables, iptables, Windows)
    DEPLOYMENT = "deployment"  #: files for the whole deployment (policies, security groups, ACLs)


class DefaultAction(StrEnum):
    """What happens to traffic the plan does not name."""

    DROP = "drop"
    REJECT = "reject"


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleOptions:
    """Choices of the user that shape the rules (not the plan itself)."""

    hosts: tuple[str, ...] = ()  #: host-scoped targets: render these hosts (empty: all)
    egress: bool = False  #: also filter what each host sends
    default: DefaultAction = DefaultAction.DROP
    extra: Mapping[str, str] = field(default_factory=dict)  #: target-specific settings


class Target:
    """Base of every target.  Subclasses set the class attributes and implement :meth:`render`."""

    name: ClassVar[str]
    description: ClassVar[str]
    scope: ClassVar[Scope]
    capabilities: ClassVar[frozenset[Capability]]
    #: the settings (``--set KEY=VALUE``) the target knows: key → its allowed values, or None
    #: where the target checks the value itself; any other key is refused
    settings: ClassVar[Mapping[str, tuple[str, ...] | None]] = {}
    #: why the target cannot express ``--default reject`` (None: it can)
    reject_refusal: ClassVar[str | None] = None
    #: how a host's rendered files are applied on a machine (None: they cannot be, here)
    applier: ClassVar[type[Applier] | None] = None

    def render(self, plan: Plan, options: RuleOptions) -> dict[str, str]:
        """Files (name → text) implementing ``plan``; ``TargetError`` if it cannot be expressed."""
        raise NotImplementedError

    def check_options(self, options: RuleOptions) -> None:
        """Refuse unknown settings, values not allowed, and ``--default reject`` where the
        target cannot reject: a typo or a missing feature must never give a broader ruleset."""
        for key, value in options.extra.items():
            if key not in self.settings:
                raise TargetError(self.unknown_setting(key, options.extra))
            allowed = self.settings[key]
            if allowed is not None and value not in allowed:
                raise TargetError(
                    f"{self.name} setting {key}={value!r}: choose " + " or ".join(allowed)
                )
        if self.reject_refusal is not None and options.default is DefaultAction.REJECT:
            raise TargetError(
                f"target {self.name} cannot express --default reject: {self.reject_refusal}; "
                "use --default drop"
            )

    def unknown_setting(self, key: str, extra: Mapping[str, str]) -> str:
        """The refusal of ``key``, the first setting of ``extra`` the target does not know."""
        unknown = ", ".join(repr(k) for k in sorted(extra) if k not in self.settings)
        known = f"its settings are {', '.join(self.settings)}" if self.settings else "it takes none"
        return f"target {self.name} has no setting {unknown}; {known} (see docs/targets.md)"


class Applier:
    """Checks, saves, loads and restores one host's ruleset on this machine.

    Made from the files :meth:`Target.render` wrote for the host.  What :meth:`snapshot` saves
    is exactly what :meth:`load` changes (for nftables, portplan's own table; for iptables,
    the filter tables and portplan's address sets), and :meth:`restore` puts it back from the
    saved copy alone: the watchdog that restores an unconfirmed ruleset has nothing else.
    Each method runs the platform's own tools and raises :class:`~portplan._errors.ApplyError`
    (or :class:`~portplan._errors.ToolError`) when they fail.
    """

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = dict(files)

    def check(self) -> None:
        """Raise if the platform's checker refuses the ruleset; change nothing."""
        raise NotImplementedError

    def snapshot(self) -> dict[str, bytes]:
        """What :meth:`load` is about to change, as it is now."""
        raise NotImplementedError

    def prove_restorable(self, saved: Mapping[str, bytes]) -> None:
        """Reload ``saved`` where it harms nothing (a network namespace of its own); raise
        :class:`~portplan._errors.ApplyError` if it would not load, before anything changes."""
        raise NotImplementedError

    def load(self, saved: Mapping[str, bytes]) -> None:
        """Replace the running ruleset with the new one, as one unit where the platform can;
        raise if a part fails: the caller then restores ``saved``, whatever part went in."""
        raise NotImplementedError

    def restore(self, saved: Mapping[str, bytes]) -> None:
        """Put back what :meth:`snapshot` saved (needs no files: works on ``Applier({})``)."""
        raise NotImplementedError

    def kept(self) -> None:
        """Once the new ruleset is confirmed (nothing will restore the saved one): remove what
        only the saved one used (for iptables, portplan's address sets the new rules do not
        name).  Raises nothing: what cannot be removed is logged as a warning."""
