#!/usr/bin/python
# Copyright: portplan contributors
# Apache License 2.0 (see LICENSE in the portplan repository)
"""Ansible module portplan.portplan.facts: listening sockets and the running ruleset."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: facts
short_description: Gather a host's listening sockets and running firewall ruleset
version_added: "0.2.0"
description:
  - Reads what the managed host listens on (every listening TCP socket and bound UDP socket,
    with the owning process where it may be read) from the kernel's own tables, and the
    firewall ruleset it runs, for C(portplan audit) to compare with the plan, read as
    C(portplan audit --live) reads it - C(nft -j list ruleset); or C(iptables-save),
    C(ip6tables-save) and C(ipset save) where nft is missing or fails, where its ruleset holds
    rules only iptables-nft can print (C(xt) matches), or where it holds no table and the
    iptables tools print some (iptables-legacy).
  - Sets the fact C(portplan) (RV(ansible_facts.portplan)).
  - Reading changes nothing; the module runs the same in check mode.
author:
  - portplan contributors (@portplan)
requirements:
  - Python 3.11 or newer on the managed host (standard library only).
  - Linux; reading the ruleset needs root (use C(become)).
options:
  ruleset:
    description: Read the running firewall ruleset too.
    type: bool
    default: true
notes:
  - Check mode is supported.
seealso:
  - module: portplan.portplan.probe
"""

EXAMPLES = r"""
- name: Gather what each host listens on and the ruleset it runs
  portplan.portplan.facts:
  become: true

- name: Show the listening TCP ports
  ansible.builtin.debug:
    msg: "{{ ansible_facts.portplan.listening | selectattr('protocol', 'eq', 'tcp') | map(attribute='port') | list }}"
"""

RETURN = r"""
ansible_facts:
  description: The facts gathered.
  returned: always
  type: dict
  contains:
    portplan:
      description: What the host listens on and the ruleset it runs.
      returned: always
      type: dict
      contains:
        listening:
          description: Listening sockets, sorted by protocol, port and address.
          returned: always
          type: list
          elements: dict
          sample: [{protocol: tcp, address: 0.0.0.0, port: 22, process: sshd, pid: 612}]
        ruleset:
          description:
            - The running ruleset; C(tool) is C(nftables), C(iptables) or null, C(format) is
              C(json) or C(iptables-save), C(files) the files that
              C(portplan audit --ruleset KIND:FILE) reads, each a dict of C(kind) (C(nftables),
              C(iptables), C(ip6tables) or C(ipset), the families apart) and C(text),
              C(text) the nft JSON or the IPv4 C(iptables-save) output, C(error) why it could
              not be read. Null when O(ruleset=false).
          returned: always
          type: dict
          sample:
            tool: nftables
            format: json
            files: [{kind: nftables, text: '{"nftables": []}'}]
            text: '{"nftables": []}'
            error: null
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible_collections.portplan.portplan.plugins.module_utils.engine.probe.hostfacts import host_facts
except ImportError:
    ENGINE_ERROR = traceback.format_exc()
else:
    ENGINE_ERROR = None


def main():
    module = AnsibleModule(
        argument_spec={"ruleset": {"type": "bool", "default": True}},
        supports_check_mode=True,
    )
    if ENGINE_ERROR is not None:
        module.fail_json(
            msg="portplan's fact gatherer cannot be loaded (it needs Python 3.11 or newer)",
            exception=ENGINE_ERROR,
        )
    facts = host_facts(with_ruleset=module.params["ruleset"])
    module.exit_json(changed=False, ansible_facts={"portplan": facts})


if __name__ == "__main__":
    main()
