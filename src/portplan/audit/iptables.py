"""iptables rulesets, as ``iptables-save`` and ``ip6tables-save`` print them (and the
``iptables-restore`` files portplan writes), with the ipsets they use, read into packet sets.

Each file is one family.  The chains a host's own traffic passes are read (``raw``, ``mangle``,
``nat``, ``filter`` and ``security``: PREROUTING and INPUT for what it receives, OUTPUT and
POSTROUTING for what it sends), with every user chain they jump to; a ``nat`` chain's policy
drops like any other (while conntrack runs), and its DNAT and REDIRECT rewrites are reported.
Read exactly: ``-s``, ``-d`` (also negated,
comma lists), ``-p`` (``0`` is every protocol), ``-i``/``-o lo``, ``-m tcp|udp|sctp|dccp
--dport``, ``-m multiport --dports``, ``-m icmp --icmp-type``, ``-m icmp6 --icmpv6-type``,
``-m conntrack --ctstate``,
``-m state --state`` (an accept of ``UNTRACKED`` or ``INVALID`` packets is read at its widest,
as unreadable: ``NOTRACK`` leaves new connections untracked), ``-m iprange``, ``-m set
--match-set NAME src|dst`` (from the ipset files given; unreadable when a rule changes the
set, ``-j SET --add-set``), ``-m comment``; targets ``ACCEPT``,
``DROP``, ``REJECT``, ``RETURN``, ``-j`` and ``-g`` to user chains, and the non-terminal
``LOG``, ``MARK``, ``CONNMARK``, ``NOTRACK`` and ``CT``.  Any other
match (a rate limit, a source port, a mark, another interface) is named in the rule's
``unreadable`` list.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
import shlex
from collections.abc import Callable, Iterator, Mapping

from portplan._errors import AuditError
from portplan.audit._input import MALFORMED, address, network, what_went_wrong
from portplan.audit._iptvalues import HELPER, PASSIVE_TARGETS
from portplan.audit._iptvalues import Unreadable as _Unreadable
from portplan.audit._iptvalues import icmp_types as _icmp
from portplan.audit._iptvalues import port_list as _ports
from portplan.audit._match import MatchBuilder
from portplan.audit._rules import Chain, Hook, Interface, Rule, Ruleset, Verdict
from portplan.spaces import PROTOCOL_NUMBERS, Ranges, address_span

__all__ = ["IpsetMembers", "iptables_family", "read_ipsets", "read_iptables_save"]

#: an ipset's name → (family, members) or None when its members cannot be read exactly
IpsetMembers = Mapping[str, tuple[int, Ranges] | None]

_PATHS = {
    Hook.INPUT: [
        ("raw", "PREROUTING"),
        ("mangle", "PREROUTING"),
        ("nat", "PREROUTING"),
        ("mangle", "INPUT"),
        ("filter", "INPUT"),
        ("security", "INPUT"),
        ("nat", "INPUT"),
    ],
    Hook.OUTPUT: [
        ("raw", "OUTPUT"),
        ("mangle", "OUTPUT"),
        ("nat", "OUTPUT"),
        ("filter", "OUTPUT"),
        ("security", "OUTPUT"),
        ("mangle", "POSTROUTING"),
        ("nat", "POSTROUTING"),
    ],
}
#: what turns conntrack on for a family: a match or a target that needs it
_CONNTRACK = re.compile(
    r"(-m|--match) (conntrack|state|connmark|connlimit|connbytes|helper)\b"
    r"|(-j|--jump) (DNAT|SNAT|MASQUERADE|REDIRECT|NETMAP|CT|CONNMARK)\b"
)
#: a rule that changes an ipset's members as packets pass (``-j SET``, port knocking)
_SET_CHANGE = re.compile(r"--(?:add|del)-set\s+['\"]?([^\s'\"]+)")
#: what to give instead of a file that is no iptables-save output, or is of the other family
_SAVED = "give the output of iptables-save or ip6tables-save as it printed it"
_FAMILIES = "give the IPv4 rules as iptables:FILE (iptables-save), the IPv6 ones as ip6tables:FILE"
#: the NAT chains before the filters of each hook, whose DNAT and REDIRECT rewrite the destination
_REWRITING = {Hook.INPUT: ("nat", "PREROUTING"), Hook.OUTPUT: ("nat", "OUTPUT")}
_PORTS = {"tcp": 6, "udp": 17, "dccp": 33, "sctp": 132, "udplite": 136}
_TERMINAL = {
    "ACCEPT": Verdict.ACCEPT,
    "DROP": Verdict.DROP,
    "REJECT": Verdict.REJECT,
    "RETURN": Verdict.RETURN,
}


class _Options:
    """The words of one rule, read option by option."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.at = 0

    def next(self) -> str | None:
        if self.at >= len(self.words):
            return None
        word = self.words[self.at]
        self.at += 1
        return word

    def value(self, option: str) -> str:
        word = self.next()
        if word is None:
            raise AuditError(f"option {option} lacks its value")
        return word

    def rest(self) -> list[str]:
        """The values of an unknown option: every word up to the next option."""
        found = []
        while (
            self.at < len(self.words)
            and not self.words[self.at].startswith("-")
            and (self.words[self.at] != "!")
        ):
            found.append(self.words[self.at])
            self.at += 1
        return found


class _RuleReader:
    def __init__(self, family: int, sets: IpsetMembers, changed: set[str], helpers: bool) -> None:
        self.family = family
        self.helpers = helpers  #: whether a rule gives connections a conntrack helper (-j CT)
        self.sets = sets
        self.changed = changed  #: the sets that rules add to or delete from

    def _addresses(self, text: str) -> Ranges:
        found = Ranges()
        for item in text.split(","):
            net = network(item)
            if net.version != self.family:
                raise AuditError(f"address {item} in an IPv{self.family} ruleset; {_FAMILIES}")
            found = found | address_span(net)
        return found

    def _range(self, text: str) -> Ranges:
        low, _, high = text.partition("-")
        return Ranges.span(int(address(low)), int(address(high or low)))

    def read(
        self, words: list[str], is_chain: Callable[[str], bool]
    ) -> tuple[MatchBuilder, tuple[Verdict, ...], str | None, str | None]:
        """What a rule's words (after ``-A CHAIN``) match, its verdicts (two where its target
        may accept or drop), the chain it jumps to and its comment."""
        built = MatchBuilder(frozenset({self.family}), helpers=self.helpers)
        options = _Options(words)
        verdicts: tuple[Verdict, ...] = (Verdict.NONE,)
        target: str | None = None
        comment: str | None = None
        protocol: str | None = None
        negate = False
        while (word := options.next()) is not None:
            if word == "!":
                negate = True
                continue
            try:
                if word in ("-s", "--source", "-d", "--destination"):
                    side = "source" if word in ("-s", "--source") else "destination"
                    ranges = self._addresses(options.value(word))
                    built.addresses(self.family, side, ranges, negate=negate)
                elif word in ("-p", "--protocol"):
                    protocol = options.value(word).lower()
                    if protocol in ("all", "0"):  # iptables reads protocol 0 as every one
                        protocol = "all"
                        if negate:
                            built.never = True
                    else:
                        number = PROTOCOL_NUMBERS.get(protocol)
                        if number is None and not protocol.isdigit():
                            raise _Unreadable(f"protocol {protocol}")
                        value = number if number is not None else int(protocol)
                        built.protocol(Ranges.point(value), negate=negate)
                elif word in ("-i", "--in-interface", "-o", "--out-interface"):
                    name = options.value(word)
                    outgoing = word in ("-o", "--out-interface")
                    if name == "lo":
                        built.on_interface(
                            Interface.NOT_LOOPBACK if negate else Interface.LOOPBACK,
                            outgoing=outgoing,
                        )
                    elif "+" in name:
                        raise _Unreadable(f"{word} {name}")
                    else:
                        built.on_interface(
                            Interface.NOT_OTHER if negate else Interface.OTHER, outgoing=outgoing
                        )
                        built.unreadable.append(f"{'! ' if negate else ''}{word} {name}")
                elif word in {"-m", "--match"}:
                    options.value(word)  # the module: its options follow and are read below
                elif word in ("--dport", "--destination-port", "--dports", "--destination-ports"):
                    number = _PORTS.get(protocol or "")
                    if number is None:
                        raise _Unreadable(f"{word} without -p tcp, udp, sctp or dccp")
                    ports = _ports(options.value(word))
                    built.destination_ports(Ranges.point(number), ports, negate=negate)
                elif word == "--icmp-type":
                    built.icmp_types(1, _icmp(options.value(word), False), negate=negate)
                elif word == "--icmpv6-type":
                    built.icmp_types(58, _icmp(options.value(word), True), negate=negate)
                elif word in ("--ctstate", "--state"):
                    listed = options.value(word)
                    states = set(listed.lower().split(","))
                    text = f"{'! ' if negate else ''}{word} {listed}"
                    built.states(states, negate=negate, text=text)
                elif word == "--syn" and protocol == "tcp":
                    # a new TCP connection's first packet is a SYN: '! --syn' matches none
                    built.never = built.never or negate
                elif word in ("--src-range", "--dst-range"):
                    side = "source" if word == "--src-range" else "destination"
                    ranges = self._range(options.value(word))
                    built.addresses(self.family, side, ranges, negate=negate)
                elif word == "--match-set":
                    self._match_set(options, built, negate)
                elif word == "--comment":
                    comment = options.value(word)
                elif word in ("-j", "--jump", "-g", "--goto"):
                    name = options.value(word)
                    if is_chain(name) and name not in _TERMINAL:
                        goto = word in ("-g", "--goto")
                        verdicts = (Verdict.GOTO if goto else Verdict.JUMP,)
                        target = name
                        continue
                    # a target of its own: the words left are its options (iptables-save
                    # prints the target last)
                    given = " ".join([word, name, *options.words[options.at :]])
                    options.at = len(options.words)
                    verdicts = _target(name, given, built)
                elif word.startswith("-"):
                    rest = options.rest()
                    raise _Unreadable(" ".join([("! " if negate else "") + word, *rest]))
                else:
                    raise AuditError(f"unexpected word {word!r}")
            except _Unreadable as exc:
                built.unreadable.append(str(exc))
            negate = False
        for verdict in verdicts:
            built.settle(verdict)
        return built, verdicts, target, comment

    def _match_set(self, options: _Options, built: MatchBuilder, negate: bool) -> None:
        name = options.value("--match-set")
        sides = options.value("--match-set").split(",")
        members = self.sets.get(name)
        if name not in self.sets:
            raise AuditError(
                f"the rule uses ipset {name!r}, which the ipset files given do not hold; give "
                "the output of `ipset save` too"
            )
        if name in self.changed:
            raise _Unreadable(f"--match-set {name} (its members change as packets pass)")
        if members is None or len(sides) != 1:
            raise _Unreadable(f"--match-set {name} {','.join(sides)}")
        family, ranges = members
        if family != self.family:
            raise _Unreadable(f"--match-set {name} (an IPv{family} set)")
        side = "source" if sides[0] == "src" else "destination"
        built.addresses(self.family, side, ranges, negate=negate)


def _target(name: str, given: str, built: MatchBuilder) -> tuple[Verdict, ...]:
    """The verdicts of a target that is not a chain (``-j CT --notrack`` decides nothing
    itself: an accept of untracked packets may)."""
    if name in _TERMINAL:
        return (_TERMINAL[name],)
    if name in PASSIVE_TARGETS:
        return (Verdict.NONE,)
    if name in ("SNAT", "MASQUERADE"):
        return (Verdict.ACCEPT,)  # the source is rewritten; it ends its NAT chain
    built.unreadable.append(given)
    if name in ("DNAT", "REDIRECT", "NETMAP"):
        built.rewrites = True
        return (Verdict.ACCEPT,)  # it ends its NAT chain, as an accept does
    if name in ("QUEUE", "NFQUEUE"):
        return (Verdict.ACCEPT,)  # a program decides: it may let the packet on
    return (Verdict.ACCEPT, Verdict.DROP)  # a target the audit does not know: either


def read_ipsets(text: str, where: str) -> dict[str, tuple[int, Ranges] | None]:
    """The sets of ``ipset save`` output, or of an ``ipset restore`` script (create, add,
    flush, swap, destroy), as they stand at its end."""
    sets: dict[str, tuple[int, Ranges] | None] = {}
    masks: dict[str, int] = {}  #: ``netmask N``: a member stands for its whole /N
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        command, args = words[0], words[1:]
        try:
            if command in ("create", "-N", "n") and args:
                if args[0] in sets and "-exist" in args:
                    continue
                kind = args[1] if len(args) > 1 else ""
                family = 6 if "inet6" in args else 4
                readable = kind in ("hash:ip", "hash:net") and "bitmask" not in args
                sets[args[0]] = (family, Ranges()) if readable else None
                masks.pop(args[0], None)
                if "netmask" in args:
                    masks[args[0]] = int(args[args.index("netmask") + 1])
            elif command in ("add", "-A", "a") and len(args) >= 2:
                found = sets.get(args[0])
                if found is None:
                    continue
                if "nomatch" in args:
                    sets[args[0]] = None
                    continue
                family, members = found
                span = _member(args[1], masks.get(args[0]))
                sets[args[0]] = (family, members | span)
            elif command in ("flush", "-F") and args and sets.get(args[0]) is not None:
                family, _members = sets[args[0]] or (4, Ranges())
                sets[args[0]] = (family, Ranges())
            elif command in ("swap", "-W") and len(args) == 2:
                sets[args[0]], sets[args[1]] = sets.get(args[1]), sets.get(args[0])
                first, second = masks.pop(args[0], None), masks.pop(args[1], None)
                masks.update({k: v for k, v in ((args[1], first), (args[0], second)) if v})
            elif command in ("destroy", "-X") and args:
                sets.pop(args[0], None)
        except (ValueError, IndexError) as exc:
            raise AuditError(f"{where}:{number}: {exc}") from None
    return sets


def _member(item: str, netmask: int | None) -> Ranges:
    """The addresses one ``add`` puts in a set: an address, a network or a range, each
    address widened to its ``/netmask`` when the set was created with one."""
    if "-" in item:
        low, high = (ipaddress.ip_address(v) for v in item.split("-", 1))
        if netmask is not None:
            low = ipaddress.ip_network(f"{low}/{netmask}", strict=False).network_address
            high = ipaddress.ip_network(f"{high}/{netmask}", strict=False).broadcast_address
        return Ranges.span(int(low), int(high))
    network = ipaddress.ip_network(item, strict=False)
    if netmask is not None and network.prefixlen > netmask:
        network = network.supernet(new_prefix=netmask)
    return address_span(network)


#: the header line iptables-save (also -nft, -legacy) and portplan's restore files begin with
_HEADER = re.compile(
    r"# (?:Generated by (ip6?tables)(?:-nft|-legacy)?-save |portplan (ip6?tables)-restore )"
)
#: options whose value tells the family, and the values that do
_FAMILY_WORDS = {
    "-p": {"ipv6-icmp": 6, "icmpv6": 6, "58": 6, "icmp": 4, "1": 4},
    "--protocol": {"ipv6-icmp": 6, "icmpv6": 6, "58": 6, "icmp": 4, "1": 4},
    "-m": {"icmp6": 6, "icmp": 4},
    "--match": {"icmp6": 6, "icmp": 4},
}
_ADDRESS_OPTIONS = frozenset(
    {"-s", "--source", "-d", "--destination", "--src-range", "--dst-range"}
)


def iptables_family(text: str) -> int | None:
    """The family an iptables-save file's structure says, ``None`` when it says none: its
    header line (``# Generated by ip6tables-save``), else the first rule whose addresses,
    protocol or ICMP match only one family has (never what a comment says)."""
    _number, first = next(_lines(text, comments=True), (0, ""))
    header = _HEADER.match(first)  # only the first line is the header
    if header:
        return 6 if "ip6tables" in (header.group(1), header.group(2)) else 4
    for _number, line in _lines(text):
        if not line.startswith(("-A ", "--append ")):
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        for option, value in itertools.pairwise(words):
            if option in _ADDRESS_OPTIONS:
                return 6 if ":" in value else 4
            if value in _FAMILY_WORDS.get(option, {}):
                return _FAMILY_WORDS[option][value]
            if option in ("--icmpv6-type", "--icmp-type"):
                return 6 if option == "--icmpv6-type" else 4
    return None


def _family_of(text: str, where: str) -> int:
    """The family of an iptables-save file, or :class:`AuditError` if it does not say."""
    family = iptables_family(text)
    if family is None:
        raise AuditError(
            f"{where}: cannot tell whether this is iptables-save or ip6tables-save output; "
            "name it as iptables:FILE or ip6tables:FILE"
        )
    return family


def _lines(text: str, *, comments: bool = False) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped and (comments or not stripped.startswith("#")):
            yield number, stripped


def read_iptables_save(
    files: list[tuple[str, str, int | None]], sets: IpsetMembers | None = None
) -> Ruleset:
    """The ruleset of ``iptables-save``/``ip6tables-save`` files, each ``(name, text,
    family or None to tell from the text)``, with the ipsets their rules use."""
    ruleset = Ruleset(platform="iptables", files=tuple(name for name, _t, _f in files))
    families: set[int] = set()
    changed = {m.group(1) for _name, text, _given in files for m in _SET_CHANGE.finditer(text)}
    for name, text, given in files:
        family = given or _family_of(text, name)
        families.add(family)
        reader = _RuleReader(family, sets or {}, changed, HELPER.search(text) is not None)
        prefix = "ip" if family == 4 else "ip6"
        table = None
        for number, line in _lines(text):
            where = f"{name}:{number}"
            if line.startswith("*"):
                table = line[1:]
            elif line == "COMMIT":
                table = None
            elif table is None:
                raise AuditError(f"{where}: a line outside a table (*filter ... COMMIT); {_SAVED}")
            elif line.startswith(":"):
                chain_name, policy = ([*line[1:].split(), "-"])[:2]
                key = f"{prefix} {table} {chain_name}"
                ruleset.chains[key] = Chain(
                    key=key,
                    name=chain_name,
                    policy={"ACCEPT": Verdict.ACCEPT, "DROP": Verdict.DROP}.get(policy),
                    families=frozenset({family}),
                    where=where,
                    forwards=chain_name == "FORWARD" and policy != "-",  # not a user chain
                    regular=policy == "-",
                )
            elif line.startswith(("-A ", "--append ")):
                ruleset.chains.setdefault(
                    f"{prefix} {table} {line.split()[1]}",
                    Chain(key="", name=line.split()[1], families=frozenset({family})),
                )
                _add_rule(ruleset, reader, prefix, table, line, where, number)
            else:
                raise AuditError(f"{where}: not a line of iptables-save output: {line[:60]}")
        conntrack = _CONNTRACK.search(text) is not None
        for hook, steps in _PATHS.items():
            for table_name, chain_name in steps:
                key = f"{prefix} {table_name} {chain_name}"
                if key in ruleset.chains and ruleset.chains[key].policy is not None:
                    ruleset.paths.setdefault(hook, []).append(key)
                    if table_name == "nat":
                        # a NAT chain sees a connection's first packet while conntrack runs,
                        # and on the way in no loopback packet (conntrack met it on the way out)
                        chain = ruleset.chains[key]
                        chain.sees_loopback = hook is Hook.OUTPUT
                        if not conntrack:
                            chain.only = "when conntrack runs (no rule of its file turns it on)"
        for hook, (table_name, chain_name) in _REWRITING.items():
            key = f"{prefix} {table_name} {chain_name}"
            if key in ruleset.chains:
                ruleset.rewriting.setdefault(hook, []).append(key)
    ruleset.families = frozenset(families)
    return ruleset


def _add_rule(
    ruleset: Ruleset,
    reader: _RuleReader,
    prefix: str,
    table: str,
    line: str,
    where: str,
    number: int,
) -> None:
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise AuditError(f"{where}: {exc}") from None
    chain = ruleset.chains[f"{prefix} {table} {words[1]}"]
    if not chain.key:
        raise AuditError(f"{where}: rule of chain {words[1]}, which is not declared (:{words[1]})")
    try:
        built, verdicts, target, comment = reader.read(
            words[2:], lambda name: f"{prefix} {table} {name}" in ruleset.chains
        )
    except AuditError as exc:
        raise AuditError(f"{where}: {exc}") from None
    except MALFORMED as exc:
        raise AuditError(f"{where}: {what_went_wrong(exc)}; fix the rule") from exc
    match = built.space()
    chain.rules.extend(
        Rule(
            where=where,
            text=line,
            match=match,
            verdict=verdict,
            target=f"{prefix} {table} {target}" if target is not None else None,
            interface=built.interface,
            out_interface=built.out_interface,
            unreadable=tuple(built.unreadable),
            comment=comment,
            line=number,
            rewrites=built.rewrites,
        )
        for verdict in verdicts
    )
