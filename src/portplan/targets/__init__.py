"""Firewall back ends: one module per platform, and the registry that names them.

The contract every target follows is in :mod:`portplan.targets.base`.  Built-in targets and
those other packages register under the entry-point group ``portplan.targets`` (see
:mod:`portplan._plugins`) are found by :func:`get_target`; a name registered twice is an error.
"""

from __future__ import annotations

from portplan._errors import TargetError
from portplan._plugins import PluginRegistry
from portplan._text import choice_hint
from portplan.targets.base import (
    COMMON_CAPABILITIES,
    LINUX_HOST_CAPABILITIES,
    STATEFUL_CAPABILITIES,
    Applier,
    Capability,
    DefaultAction,
    RuleOptions,
    Scope,
    Target,
)

__all__ = [
    "COMMON_CAPABILITIES",
    "LINUX_HOST_CAPABILITIES",
    "REGISTRY",
    "STATEFUL_CAPABILITIES",
    "Applier",
    "Capability",
    "DefaultAction",
    "RuleOptions",
    "Scope",
    "Target",
    "get_target",
    "target_names",
]


def _accept(found: object) -> Target | None:
    return found() if isinstance(found, type) and issubclass(found, Target) else None


#: every target: the built-ins, imported only when used (keeps `portplan --help` fast), and
#: those of the entry-point group ``portplan.targets``
REGISTRY: PluginRegistry[Target] = PluginRegistry(
    "target",
    {
        "aws": "portplan.targets.aws:AwsTarget",
        "cisco": "portplan.targets.acl:CiscoTarget",
        "iptables": "portplan.targets.iptables:IptablesTarget",
        "juniper": "portplan.targets.acl:JuniperTarget",
        "kubernetes": "portplan.targets.kubernetes:KubernetesTarget",
        "nftables": "portplan.targets.nftables:NftablesTarget",
        "paloalto": "portplan.targets.acl:PaloAltoTarget",
        "windows": "portplan.targets.windows:WindowsTarget",
    },
    _accept,
)


def target_names() -> tuple[str, ...]:
    """Names of every registered target, sorted."""
    return REGISTRY.names()


def get_target(name: str) -> Target:
    """The target registered as ``name``; :class:`TargetError` if there is none."""
    target = REGISTRY.find(name)
    if target is None:
        raise TargetError(
            f"no target {name!r}; "
            + choice_hint(name, REGISTRY.names(), "targets")
            + " (`portplan targets` lists them)"
        )
    return target
