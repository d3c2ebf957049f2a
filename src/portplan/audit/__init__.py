"""After go-live: a host's firewall ruleset and its listening sockets against the plan.

:func:`audit_ruleset` compares what a ruleset permits with what the plan needs on one host, as
exact packet sets (:mod:`portplan.spaces`); the parsers (:mod:`.nftables`, :mod:`.iptables`)
read each platform's own export into them.  Nothing here reads rulesets as text patterns.
"""

from portplan.audit._findings import KINDS_OF, AuditResult, Finding, FindingKind, RuleServes
from portplan.audit._rules import Chain, Hook, Interface, Rule, Ruleset, Verdict
from portplan.audit.nftables import read_nftables_json
from portplan.audit.ruleset import audit_ruleset

__all__ = [
    "KINDS_OF",
    "AuditResult",
    "Chain",
    "Finding",
    "FindingKind",
    "Hook",
    "Interface",
    "Rule",
    "RuleServes",
    "Ruleset",
    "Verdict",
    "audit_ruleset",
    "read_nftables_json",
]
