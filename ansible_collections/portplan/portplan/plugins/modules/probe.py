#!/usr/bin/python
# Copyright: portplan contributors
# Apache License 2.0 (see LICENSE in the portplan repository)
"""Ansible module portplan.portplan.probe: probe planned flows from the managed host."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: probe
short_description: Probe planned network flows from the managed host
version_added: "0.2.0"
description:
  - Probes every destination address and port it is given, from the managed host, with
    portplan's own prober (shipped in this collection's module_utils), and reports for each
    port an honest outcome with its evidence, exactly as C(portplan verify --format json)
    does.
  - "TCP outcomes: C(open) (also when the service then resets the connection), C(refused) (a
    reset to the SYN), C(filtered) (silence, also on a second look), C(rejected) (ICMP
    admin-prohibited, host- or protocol-unreachable), C(no-route) (no route here, no host
    answering for the address on the host's own link, ICMP net-unreachable or time exceeded
    on the way), C(local-error) (the host's own limits or firewall), C(unfinished) (the O(deadline) came first). UDP: C(open) (an answer), C(closed) (ICMP
    port-unreachable), C(open|filtered) (silence, never counted as open). ICMP (one echo
    request, ping): C(open) only for the matching echo reply, C(rejected) (an ICMP
    destination unreachable about it), C(filtered) (silence), C(no-route), C(local-error)."
  - ICMP echo requests go through an unprivileged ping socket where the host's
    C(net.ipv4.ping_group_range) allows the remote user's group, else through a raw socket
    (root, C(CAP_NET_RAW)); with neither, the probe is C(local-error) with the reason.
  - A destination reached by name (O(probes[].dns_name)) is resolved on the managed host
    first, as the product would; a name that does not resolve, or an address it resolves to
    that O(probes[].destination_addresses) does not hold, is C(dns-error) and never probed.
  - A destination known by name only (O(probes[].dns_name) without O(probes[].address)) is
    probed at each address its name resolves to on the managed host (at most 16; never a
    special-purpose address).
  - Where O(probes[].source) and O(probes[].destination) are the same host (the members of a
    cluster reaching each other), the managed host leaves out its own address.
  - Where O(probes[].identify) names an application protocol, what answers is identified
    (HTTP, TLS, LDAP, SMB, SMTP, PostgreSQL, RADIUS...). TLS certificates are returned as
    base64 DER in the C(certificate_der) detail; C(portplan verify --inventory) reads them on
    the controller.
  - Only ever probes the addresses it is given. C(portplan verify --inventory) gives each host
    exactly the flows of the deployment's plan that start there.
  - Probing changes nothing on the host, so the module runs the same in check mode and never
    reports a change.
author:
  - portplan contributors (@portplan)
requirements:
  - Python 3.11 or newer on the managed host (standard library only).
  - Linux on the managed host (the prober reads ICMP errors and TCP state from Linux sockets).
options:
  probes:
    description:
      - The flows to probe, one item per planned row and destination address.
    type: list
    elements: dict
    required: true
    suboptions:
      flow:
        description: The flow id (C(product/flow), with C(/ingress) or C(/backend) for proxied legs).
        type: str
        required: true
      reference:
        description: The vendor document's row the flow comes from.
        type: str
        default: ""
      source:
        description: The deployment host this managed host stands for.
        type: str
        required: true
      destination:
        description: The deployment host probed.
        type: str
        required: true
      destination_component:
        description: The product component on the destination.
        type: str
        default: ""
      destination_addresses:
        description:
          - Every address the deployment declares for the destination host (networks allowed).
          - Addresses a destination name resolves to outside these are C(dns-error), never probed.
          - An O(probes[].address) outside these is refused; the module probes only the addresses
            the deployment declares for the destination.
          - Defaults to O(probes[].address) alone.
        type: list
        elements: str
        default: []
      address:
        description:
          - The destination IP address to probe.
          - A special-purpose address (C(0.0.0.0), C(::), multicast, broadcast, IPv4-mapped
            IPv6) names no single machine to reach and is refused, as C(portplan verify)
            never probes one.
          - Left out for a host known by name only (O(probes[].dns_name) is then required).
        type: str
      dns_name:
        description: The name the product reaches the destination by, resolved here first.
        type: str
      source_addresses:
        description:
          - The source host's own addresses; probes are sent from the first of them this host
            has, per address family (otherwise the kernel chooses).
        type: list
        elements: str
        default: []
      protocol:
        description: The protocol (C(icmp) sends one echo request).
        type: str
        choices: [tcp, udp, icmp]
        required: true
      ports:
        description: The ports to probe; none for C(icmp).
        type: list
        elements: int
        default: []
      icmp_type:
        description: For C(icmp), the message sent (an echo request, the one a probe can send).
        type: str
        choices: [echo-request]
      planned_ports:
        description:
          - Every port the plan holds for this flow (C(135), C(49152-65535)), when O(probes[].ports)
            is a sample of them. The dynamic ports an RPC endpoint mapper names are probed only
            when they are among these.
          - Defaults to O(probes[].ports).
        type: list
        elements: str
        default: []
      identify:
        description: The application protocol to identify on open ports (for example C(https), C(ldap)).
        type: str
      expect:
        description:
          - C(open) for a planned flow.
          - C(blocked) to prove a path closed; it passes on C(refused), C(closed), C(filtered),
            C(rejected) or C(no-route) (from the way, time exceeded included), and on the
            managed host's own firewall dropping or rejecting the probe (its egress
            filtering; the note says so); it fails on C(open), C(local-error) (also where the
            managed host has no route or a C(prohibit), C(unreachable) or C(blackhole)
            route, or no host answers for the address on its own link; nothing but a lookup
            left it, and no firewall was tested) and UDP silence.
        type: str
        choices: [open, blocked]
        default: open
      notes:
        description: Notes carried into every record of this item.
        type: list
        elements: str
        default: []
      loopback:
        description:
          - Whether the row is a loopback row (between processes of one machine, on its own
            C(127.0.0.1)), probed from the kernel's choice of address. Any other probe goes
            from O(probes[].source_addresses), also to a loopback address (a lab on
            C(127.0.0.0/8)).
          - Left out, a probe to a loopback address is taken for a loopback row.
        type: bool
  timeout:
    description:
      - Seconds a probe waits for an answer. Once a destination has answered, the first look
        adapts to its round-trip time; a silent TCP port then waits for the kernel's
        retransmission of its SYN (1 s), a round of second looks at least 1.2 s.
    type: float
    default: 1.0
  concurrency:
    description: Probes at once (kept below the open-files limit).
    type: int
    default: 2048
  second_look:
    description:
      - Look again at silent ports before calling them filtered (a lost SYN, a rate-limited
        ICMP error or the host's own firewall can look like silence), through the kernel's
        retransmission of a TCP SYN and in rounds a second apart.
      - Probes with O(probes[].expect=blocked) need it.
    type: bool
    default: true
  identify_services:
    description: Identify the application protocol of open ports where O(probes[].identify) names it.
    type: bool
    default: true
  radius_secret:
    description: The RADIUS shared secret, for identifying RADIUS servers.
    type: str
  radius_secret_sealed:
    description:
      - The RADIUS shared secret as C(portplan verify --inventory) sends it, in place of
        O(radius_secret) - base64 of 16 random bytes followed by the secret.
      - Ansible hides a secret wherever it occurs in the module's result; a short one
        (C(open), C(127)) would hide outcomes and addresses. What Ansible hides is then this
        text, which occurs nowhere else.
    type: str
  snmp_community:
    description:
      - An SNMP community, for identifying SNMP agents that run SNMPv1/v2c only (SNMPv3
        disabled, as on many network devices), which are silent to the SNMPv3 engine-ID
        discovery. An C(snmp) port is then also sent an SNMPv2c GetRequest for C(sysDescr.0)
        and C(sysObjectID.0), and identified by the first valid answer.
      - The community travels in clear text, as the product's own SNMP poll sends it. Most
        agents drop a wrong community silently (the port stays C(open|filtered)), and many
        then send their managers an authenticationFailure trap, which may raise an alarm.
      - The community is never in the module's result.
    type: str
  snmp_community_sealed:
    description:
      - The SNMP community as C(portplan verify --inventory) sends it, in place of
        O(snmp_community) - base64 of 16 random bytes followed by the community (see
        O(radius_secret_sealed)).
    type: str
  deadline:
    description:
      - Seconds the whole run may take; ports not settled by then are C(unfinished) (and
        fail).
      - Default, as C(portplan verify)'s, a minute plus 1.5 s per port of the busiest
        destination, at most an hour.
    type: float
notes:
  - Check mode is supported; the module probes in check mode too and never changes anything.
seealso:
  - module: portplan.portplan.listen
  - module: portplan.portplan.facts
"""

EXAMPLES = r"""
- name: Prove that the web server reaches its database
  portplan.portplan.probe:
    probes:
      - flow: shopping-6.1/central-sql
        source: shop01
        destination: sql01
        address: 192.0.2.20
        protocol: tcp
        ports: [1433]
        identify: tds
  register: proof

- name: Prove that the DMZ cannot reach the database
  portplan.portplan.probe:
    probes:
      - flow: audit/dmz-to-sql
        source: da-edge01
        destination: pgsql01
        address: 192.0.2.50
        protocol: tcp
        ports: [5432]
        expect: blocked
  register: closed

- name: Fail when a probe failed
  ansible.builtin.assert:
    that: proof.summary.failed == 0
"""

RETURN = r"""
checks:
  description:
    - One record per probed port, exactly as the C(checks) items of
      C(portplan verify --format json) (C(portplan schema verify) prints the JSON Schema).
  returned: always
  type: list
  elements: dict
  sample:
    - flow: shopping-6.1/central-sql
      reference: "Central Service > Microsoft SQL Server"
      source: shop01
      destination: sql01
      destination_component: sql_server
      address: 192.0.2.20
      dns_name: null
      source_address: 192.0.2.10
      protocol: tcp
      port: 1433
      icmp_type: null
      outcome: open
      passed: true
      temporary_listener: false
      evidence: {errno: null, icmp: null, elapsed_ms: 0.4, attempts: 1, note: null}
      identification: null
      dns: null
      source_dns: null
      notes: []
engine_version:
  description:
    - The portplan version of the engine the module carries; C(portplan verify --inventory)
      uses no results of an engine other than its own.
  returned: always
  type: str
  sample: 0.2.0
elapsed:
  description: Seconds the host spent probing (resolving, probing and identifying).
  returned: always
  type: float
  sample: 2.31
summary:
  description: How many records passed and failed.
  returned: always
  type: dict
  contains:
    passed:
      description: Records that passed.
      type: int
      returned: always
      sample: 12
    failed:
      description: Records that did not pass.
      type: int
      returned: always
      sample: 0
"""

import base64
import sys
import time
import traceback

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible_collections.portplan.portplan.plugins.module_utils.engine import identifiers
    from ansible_collections.portplan.portplan.plugins.module_utils.engine._version import __version__ as ENGINE_VERSION
    from ansible_collections.portplan.portplan.plugins.module_utils.engine.probe.remote import (
        RequestError,
        probe_requests,
    )
except ImportError:
    ENGINE_ERROR = traceback.format_exc()
else:
    ENGINE_ERROR = None
    IDENTIFIERS = identifiers.MODULES  # imported so that Ansible packs every identifier


#: random bytes before the secret in radius_secret_sealed and snmp_community_sealed
SEAL = 16
#: the options that hold a secret (each also as <option>_sealed, as portplan verify
#: --inventory sends it), and the name the identifiers read it by
SECRETS = {"radius_secret": "radius", "snmp_community": "snmp"}


def argument_spec():
    """The module's options (DOCUMENTATION says what each means)."""
    text_list = {"type": "list", "elements": "str", "default": []}
    return {
        "probes": {
            "type": "list",
            "elements": "dict",
            "required": True,
            "options": {
                "flow": {"type": "str", "required": True},
                "reference": {"type": "str", "default": ""},
                "source": {"type": "str", "required": True},
                "destination": {"type": "str", "required": True},
                "destination_component": {"type": "str", "default": ""},
                "destination_addresses": dict(text_list),
                "address": {"type": "str"},
                "dns_name": {"type": "str"},
                "source_addresses": dict(text_list),
                "protocol": {"type": "str", "choices": ["tcp", "udp", "icmp"], "required": True},
                "ports": {"type": "list", "elements": "int", "default": []},
                "icmp_type": {"type": "str", "choices": ["echo-request"]},
                "planned_ports": dict(text_list),
                "identify": {"type": "str"},
                "expect": {"type": "str", "choices": ["open", "blocked"], "default": "open"},
                "notes": dict(text_list),
                "loopback": {"type": "bool"},
            },
        },
        "timeout": {"type": "float", "default": 1.0},
        "concurrency": {"type": "int", "default": 2048},
        "second_look": {"type": "bool", "default": True},
        "identify_services": {"type": "bool", "default": True},
        "deadline": {"type": "float"},
        **{
            name: {"type": "str", "no_log": True}
            for option in SECRETS
            for name in (option, option + "_sealed")
        },
    }


def read_secrets(module):
    """The secrets the identifiers read, by their name, from the options that hold them."""
    secrets = {}
    for option, name in SECRETS.items():
        if module.params[option]:
            secrets[name] = module.params[option].encode()
        sealed_option = option + "_sealed"
        if module.params[sealed_option]:
            try:
                sealed = base64.b64decode(module.params[sealed_option], validate=True)
            except ValueError:
                module.fail_json(msg="%s is not base64" % sealed_option)
            if len(sealed) <= SEAL:
                module.fail_json(
                    msg="%s holds no secret after its %d bytes" % (sealed_option, SEAL)
                )
            secrets[name] = sealed[SEAL:]
    return secrets


def engine_failure(module):
    """Fail with the reason the prober cannot load here (most often: Python too old)."""
    if sys.version_info < (3, 11):
        version = ".".join(str(part) for part in sys.version_info[:3])
        module.fail_json(
            msg="portplan's prober needs Python 3.11 or newer on the managed host, which "
            "runs Python %s (set ansible_python_interpreter to a newer one)" % version,
            exception=ENGINE_ERROR,
        )
    module.fail_json(msg="portplan's prober cannot be loaded", exception=ENGINE_ERROR)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if ENGINE_ERROR is not None:
        engine_failure(module)
    params = module.params
    if not 0.05 <= params["timeout"] <= 60:
        module.fail_json(msg="timeout must be between 0.05 and 60 seconds")
    if not 1 <= params["concurrency"] <= 8192:
        module.fail_json(msg="concurrency must be between 1 and 8192")
    if params["deadline"] is not None and not 1 <= params["deadline"] <= 86400:
        module.fail_json(msg="deadline must be between 1 and 86400 seconds")
    if not params["second_look"] and any(p.get("expect") == "blocked" for p in params["probes"]):
        module.fail_json(
            msg="expect: blocked needs second_look: a port silent once may be one whose SYN was "
            "lost on the way, and would pass as blocked"
        )
    secrets = read_secrets(module)
    started = time.monotonic()
    try:
        found = probe_requests(
            params["probes"],
            timeout=params["timeout"],
            concurrency=params["concurrency"],
            second_look=params["second_look"],
            identify_services=params["identify_services"],
            secrets=secrets,
            deadline=params["deadline"],
        )
    except RequestError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="probing failed on this host: %s" % exc, exception=traceback.format_exc())
    module.exit_json(
        changed=False,
        checks=found["checks"],
        engine_version=ENGINE_VERSION,
        elapsed=round(time.monotonic() - started, 3),
        summary={"passed": found["passed"], "failed": found["failed"]},
    )


if __name__ == "__main__":
    main()
