"""A host's firewall against the plan: what it permits that the plan does not name, what the
plan needs that it does not permit, and rules that never decide.

The universe is every new connection that can reach the host's firewall from the network:
packets addressed to one of the host's addresses as the deployment declares them (for egress:
packets the host sends from them).  Within it the audit compares two exact sets, what the
ruleset permits and what the plan's rows name:

* ``extra``: permitted beyond the plan, per rule that accepts it, with an example packet;
  the IPv6 link traffic portplan's host rulesets accept ahead of the plan (neighbour
  discovery, multicast listener queries and reports, DHCPv6 replies and requests:
  :mod:`._infrastructure`), which IPv6 needs to keep working, and traffic on ``lo``, which
  cannot come from the network, are never extra;
* ``missing`` / ``partial``: a planned row not permitted at all, or in part, naming the rule (or
  the chain policy) that stops it; loopback rows are checked on ``lo``;
* ``shadowed``: an accept (or drop) rule whose every packet an earlier rule of the other verdict
  decides, so it never takes effect;
* ``unreadable``: a rule the parser could not read exactly.  The ruleset is then read twice,
  at its widest and at its narrowest, so an extra is what *may* pass and a missing flow what
  does not *surely* pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from portplan._errors import AuditError
from portplan.audit._evaluate import Bound, ChainResult, Evaluation, View
from portplan.audit._findings import AuditResult, Finding, FindingKind, RuleServes, describe_space
from portplan.audit._infrastructure import INFRASTRUCTURE, NEIGHBOUR_DISCOVERY
from portplan.audit._rules import BOUNDARY_PLATFORMS, Chain, Hook, Rule, Ruleset, Verdict
from portplan.audit._shadows import Way, shadowed, unreadable
from portplan.audit._universe import between, loopback_universe, universe
from portplan.plan import Plan, PlannedFlow
from portplan.spaces import Space, flow_space

__all__ = [
    "INFRASTRUCTURE",
    "NEIGHBOUR_DISCOVERY",
    "Coverage",
    "audit_ruleset",
    "coverage",
    "permitted",
]


class _Direction:
    """The audit of one direction (what the host receives, or sends)."""

    def __init__(
        self,
        plan: Plan,
        host: str,
        ruleset: Ruleset,
        hook: Hook,
        boundary: tuple[str, str] | None = None,
    ) -> None:
        self.plan = plan
        self.host = host  #: the host audited, or the boundary (``dmz -> internal``)
        self.ruleset = ruleset
        self.hook = hook
        self.inbound = hook is Hook.INPUT
        self.label = "inbound" if self.inbound else "outbound"
        families = ruleset.families
        if boundary is None:
            addresses = plan.host_addresses(host)
            self.universe = universe(addresses, families, inbound=self.inbound)
            self.loopback_universe = loopback_universe(addresses, families)
            ending = [
                r
                for r in plan.rows_of(host)
                if (r.destination if self.inbound else r.source) == host
            ]
        else:
            self.universe = between(plan, boundary, families)
            self.loopback_universe = Space.empty()
            ending = [
                r
                for r in plan.rows
                if (r.source_zone, r.destination_zone) == boundary and not r.loopback
            ]
        exact = all(r.exact for c in ruleset.awake() for r in c.rules) and not any(
            ruleset.chains[k].only for keys in ruleset.paths.values() for k in keys
        )
        self.high = Evaluation(ruleset, self.universe, View.NETWORK, Bound.HIGH, hook)
        self.low = (
            self.high
            if exact
            else Evaluation(ruleset, self.universe, View.NETWORK, Bound.LOW, hook)
        )
        self.loop_low = Evaluation(ruleset, self.loopback_universe, View.LOOPBACK, Bound.LOW, hook)
        self.rows: list[tuple[PlannedFlow, Space]] = []
        self.loop_rows: list[tuple[PlannedFlow, Space]] = []
        # a NetworkPolicy matches the port on the pods: where their service listens
        on_pods = ruleset.platform == "kubernetes" and self.inbound
        for row in ending:
            ports = row.listening_ports if on_pods else row.ports
            space = flow_space(
                row.source_addresses, row.destination_addresses, row.protocol, ports, row.icmp
            )
            if row.loopback:
                self.loop_rows.append((row, space & self.loopback_universe))
            else:
                self.rows.append((row, space & self.universe))
        self.planned = Space(b for _row, space in self.rows for b in space.boxes)

    def peer(self, row: PlannedFlow) -> str:
        return row.source if self.inbound else row.destination

    def path(self, evaluation: Evaluation) -> list[Chain]:
        """The base chains on the hook that the packets of ``evaluation`` pass."""
        chains = [self.ruleset.chains[key] for key in self.ruleset.paths.get(self.hook, [])]
        return [c for c in chains if evaluation.reads(c)]

    # -- extra ------------------------------------------------------------------------------

    def extra(self) -> list[Finding]:
        permitted = self.high.permitted(self.hook)
        left = permitted - self.planned - INFRASTRUCTURE
        if not left:
            return []
        findings: list[Finding] = []
        open_chain: Chain | None = None  #: the first chain that lets everything on
        for chain in self.path(self.high):
            if not left:
                break
            result = self.high.chain(chain.key)
            if chain.policy is Verdict.ACCEPT and not self.low.chain(chain.key).dropped:
                # it lets everything on, even read at its narrowest: it decides nothing
                open_chain = open_chain or chain
                continue
            for _index, rule, accepted in self.accepting(chain, result):
                part = accepted & left
                if not part:
                    continue
                left = left - part
                findings.append(self._extra(part, rule))
            policy_part = left & result.accepted
            if policy_part and chain.policy is Verdict.ACCEPT:
                left = left - policy_part
                findings.append(self._extra(policy_part, None, chain))
        for rule, rewritten in self.high.rewrites(self.hook):
            part = rewritten & left
            if part:
                left = left - part
                findings.append(self._extra(part, rule))
        if left:
            findings.append(self._extra(left, None, open_chain))
        return findings

    def accepting(self, chain: Chain, result: ChainResult) -> Iterable[tuple[int, Rule, Space]]:
        """Accept rules of ``chain`` and of the chains it jumps to, in the order they act."""
        for index, rule in enumerate(chain.rules):
            accepted = result.accepts.get(index)
            if accepted is None:
                continue
            if rule.verdict in (Verdict.JUMP, Verdict.GOTO) and rule.target is not None:
                inner_chain = self.ruleset.chains[rule.target]
                inner = self.high.chain(rule.target)
                for inner_index, inner_rule, inner_accepted in self.accepting(inner_chain, inner):
                    yield inner_index, inner_rule, inner_accepted & accepted
                continue
            yield index, rule, accepted

    def _extra(self, part: Space, rule: Rule | None, chain: Chain | None = None) -> Finding:
        example = part.example()
        if rule is not None:
            who = f"rule {rule.where}" + (f" ({rule.comment})" if rule.comment else "")
        elif chain is not None:
            who = f"the {chain.describe_policy()}"
        else:
            who = f"no chain on the {self.hook} hook (everything passes)"
        message = f"{who} permits {describe_space(part)}, which the plan does not name"
        if rule is not None and rule.rewrites:
            message = (
                f"{who} rewrites the address or port of {describe_space(part)}, which the "
                "plan does not name: the filters see it as another packet, and may accept it"
            )
        return Finding(
            kind=FindingKind.EXTRA,
            host=self.host,
            direction=self.label,
            message=message,
            rule=rule.where if rule else chain.where if chain else None,
            rule_text=rule.text if rule else None,
            line=rule.line if rule else None,
            packets=part,
            example=example,
        )

    # -- missing ----------------------------------------------------------------------------

    def missing(self) -> list[Finding]:
        findings = []
        permitted = self.low.permitted(self.hook)
        loop_permitted = self.loop_low.permitted(self.hook)
        for rows, allowed, evaluation in (
            (self.rows, permitted, self.low),
            (self.loop_rows, loop_permitted, self.loop_low),
        ):
            for row, wanted in rows:
                lacking = wanted - allowed
                if not lacking:
                    continue
                whole = lacking.same_as(wanted)
                findings.append(self._missing(row, lacking, whole, evaluation))
        return findings

    def _missing(
        self, row: PlannedFlow, lacking: Space, whole: bool, evaluation: Evaluation
    ) -> Finding:
        blocker: Rule | None = None
        chain_of: Chain | None = None
        for chain in self.path(evaluation):
            stopped = lacking - evaluation.passes(chain.key)
            if not stopped:
                continue
            chain_of = chain
            result = evaluation.chain(chain.key)
            for index, rule in enumerate(chain.rules):
                dropped = result.drops.get(index)
                if dropped is not None and dropped.overlaps(stopped):
                    blocker = rule
                    break
            break
        rewriter = next((r for r, s in evaluation.rewrites(self.hook) if s.overlaps(lacking)), None)
        if blocker is None and chain_of is None and rewriter is not None:
            blocker = rewriter
            why = (
                f"rule {rewriter.where} rewrites its destination, and the audit cannot tell "
                "whether the filters accept what it becomes"
            )
        elif blocker is not None:
            why = f"rule {blocker.where} stops it" + (
                f" ({blocker.comment})" if blocker.comment else ""
            )
        elif chain_of is not None:
            why = f"no rule accepts it: the {chain_of.describe_policy()} drops it"
        else:
            why = "a rule the audit cannot read exactly may stop it"
        if chain_of is not None and chain_of.only is not None:
            why += f" {chain_of.only}"
        kind = FindingKind.MISSING if whole else FindingKind.PARTIAL
        what = (
            "not permitted"
            if whole
            else f"permitted only in part: {describe_space(lacking)} is not"
        )
        return Finding(
            kind=kind,
            host=self.host,
            direction=self.label,
            message=f"{row.key} ({row.source} -> {row.destination} {row.opening}) is {what}; {why}",
            flow=row.key,
            peer=self.peer(row),
            rule=blocker.where if blocker else chain_of.where if chain_of else None,
            rule_text=blocker.text if blocker else None,
            line=blocker.line if blocker else None,
            packets=lacking,
            example=lacking.example(),
        )

    # -- the annotated copy -----------------------------------------------------------------

    def effects(self, chain: Chain) -> list[_Effect]:
        """For each rule of ``chain``, what it does to the packets of this direction: the
        planned flows it lets through, whether it drops any, whether it accepts any the plan
        does not name."""
        result, loop = self.high.chain(chain.key), self.loop_low.chain(chain.key)
        found = []
        for index in range(len(chain.rules)):
            accepted = result.accepts.get(index) or Space.empty()
            on_lo = loop.accepts.get(index) or Space.empty()
            flows = [r.key for r, s in self.rows if s.overlaps(accepted)]
            flows += [r.key for r, s in self.loop_rows if s.overlaps(on_lo)]
            found.append(
                _Effect(
                    flows=tuple(flows),
                    blocks=index in result.drops or index in loop.drops,
                    unplanned=bool(accepted - INFRASTRUCTURE),
                )
            )
        return found


@dataclass(frozen=True, slots=True)
class _Effect:
    """What one rule does to the packets of one direction (for the annotated copy)."""

    flows: tuple[str, ...]  #: the planned flows it lets through
    blocks: bool  #: it drops or rejects some packet
    #: it accepts some packet the plan does not need (portplan's own infrastructure aside)
    unplanned: bool


def _serves(ruleset: Ruleset, directions: dict[Hook, _Direction]) -> list[RuleServes]:
    """For the annotated copy, what each rule does for the plan, read in the directions of the
    ways its chain is on (:meth:`Ruleset.ways`): a chain on the way out against the packets the
    host sends and the flows that start on it, one both ways reach against both: it serves
    the flows it lets through on one way or the other, and otherwise blocks when it drops a
    packet of one, is not in plan when it accepts one the plan does not name (portplan's own
    infrastructure, :mod:`._infrastructure`, aside).  With or without ``egress``: the rules do
    the same whether or not the way out is compared with the plan."""
    out: list[RuleServes] = []
    idle = ruleset.idle()
    ways = ruleset.ways()
    for chain in ruleset.chains.values():
        # a chain no packet of the host's own traffic passes is not evaluated
        why = idle.get(chain.key)
        if why:
            out.extend(
                RuleServes(where=r.where, text=r.text, line=r.line, flows=(), effect=why)
                for r in chain.rules
            )
            continue
        # a zone boundary's filter is read for the one direction it is audited in
        mine = [directions[h] for h in ways.get(chain.key, ()) if h in directions]
        readings = [d.effects(chain) for d in mine or [directions[Hook.INPUT]]]
        for index, rule in enumerate(chain.rules):
            effects = [reading[index] for reading in readings]
            flows = tuple(dict.fromkeys(f for e in effects for f in e.flows))
            if flows:
                effect = "serves"
            elif any(e.blocks for e in effects):
                effect = "blocks"
            elif any(e.unplanned for e in effects):
                effect = "not in plan"
            else:
                effect = "no effect here"
            out.append(
                RuleServes(
                    where=rule.where, text=rule.text, line=rule.line, flows=flows, effect=effect
                )
            )
    return out


def audit_ruleset(
    plan: Plan,
    host: str,
    ruleset: Ruleset,
    *,
    egress: bool = False,
    annotate: bool = False,
    boundary: tuple[str, str] | None = None,
) -> AuditResult:
    """Compare the firewall ``ruleset`` of ``host`` with what the plan needs there; with
    ``boundary`` (source zone, destination zone), a zone firewall's filter with the rows that
    cross it (``host`` then names the boundary in the findings)."""
    _refuse_other_kind(ruleset, boundary=boundary is not None)
    if egress and ruleset.platform == "kubernetes":
        # the policies' egress rules are not read: the way out would be judged open to all
        raise AuditError(
            f"{', '.join(ruleset.files)}: the egress rules of NetworkPolicies are not read, so "
            "--egress cannot audit what the pods send (it would judge everything let out): "
            "audit them without --egress, which compares their ingress with the plan"
        )
    result = AuditResult(
        host=host, subject="ruleset", platform=ruleset.platform, files=ruleset.files
    )
    result.notes.extend(ruleset.notes)
    missing_families = frozenset({4, 6}) - ruleset.families
    for family in sorted(missing_families):
        result.notes.append(
            f"IPv{family} is not audited: the files given hold no IPv{family} rules"
        )
    # a rule is shadowed or unreadable as the packets of its chain's ways decide, whether or
    # not the audit compares the way out with the plan (``egress``)
    hooks = [Hook.INPUT] if boundary is not None else [Hook.INPUT, Hook.OUTPUT]
    directions = {hook: _Direction(plan, host, ruleset, hook, boundary) for hook in hooks}
    ways = {h: Way(d.label, d.high, d.loop_low) for h, d in directions.items()}
    for hook, direction in directions.items():
        if hook is Hook.OUTPUT and not egress:
            continue
        result.notes.extend(
            f"chain {key} sees a packet only {ruleset.chains[key].only}: what it drops is read "
            "as not surely passing, and it is never counted on to stop what may pass"
            for key in ruleset.paths.get(hook, [])
            if ruleset.chains[key].only is not None
        )
        result.checked += len(direction.rows) + len(direction.loop_rows)
        result.findings += direction.missing()
        result.findings += direction.extra()
        if hook is Hook.INPUT:  # listed where they were before the way out's findings
            result.findings += shadowed(ruleset, host, ways)
            result.findings += unreadable(ruleset, host, ways)
    if annotate:
        result.rules = _serves(ruleset, directions)
    return result


def permitted(
    plan: Plan, host: str, ruleset: Ruleset, hook: Hook = Hook.INPUT
) -> tuple[Space, Space]:
    """What ``ruleset`` lets through on ``hook`` of ``host`` from the network: what surely
    passes and what may pass (the same set when every rule was read exactly)."""
    direction = _Direction(plan, host, ruleset, hook)
    return direction.low.permitted(hook), direction.high.permitted(hook)


@dataclass(frozen=True, slots=True, kw_only=True)
class Coverage:
    """How much of one planned row a ruleset already permits, and which rules do."""

    status: str  #: ``yes``, ``partly`` or ``no``
    rules: tuple[str, ...]  #: where the rules that permit (part of) it are
    missing: Space  #: what is still to open


def _refuse_other_kind(ruleset: Ruleset, *, boundary: bool) -> None:
    """:class:`AuditError` unless ``ruleset`` is a zone boundary's filter exactly when a
    ``boundary`` is judged: either read as the other would be judged from the wrong traffic."""
    if boundary != (ruleset.platform in BOUNDARY_PLATFORMS):
        files = ", ".join(ruleset.files)
        raise AuditError(
            f"{files}: {ruleset.platform} rules are a host's own firewall, read for what reaches "
            "that host, not a zone boundary's filter (access lists): audit them for a host"
            if boundary
            else f"{files}: {ruleset.platform} access lists are a zone boundary's filter, not "
            "a host's firewall: audit them for a boundary"
        )


def coverage(plan: Plan, host: str, ruleset: Ruleset) -> dict[int, Coverage]:
    """For each row ending on ``host`` (by ``id`` of the row), what ``ruleset`` permits of it
    already (for a change request that holds only what is still to open).  A host's own
    firewall only: a zone boundary's access lists see only what crosses the boundary."""
    _refuse_other_kind(ruleset, boundary=False)
    direction = _Direction(plan, host, ruleset, Hook.INPUT)
    surely = direction.low.permitted(Hook.INPUT)
    loop_surely = direction.loop_low.permitted(Hook.INPUT)
    accepting = [
        (rule, space)
        for chain in direction.path(direction.high)
        for _index, rule, space in direction.accepting(chain, direction.high.chain(chain.key))
    ]
    found = {}
    for rows, allowed in ((direction.rows, surely), (direction.loop_rows, loop_surely)):
        for row, wanted in rows:
            missing = wanted - allowed
            status = "no" if missing.same_as(wanted) else "partly" if missing else "yes"
            rules = tuple(dict.fromkeys(r.where for r, s in accepting if s.overlaps(wanted)))
            found[id(row)] = Coverage(status=status, rules=rules, missing=missing)
    return found
