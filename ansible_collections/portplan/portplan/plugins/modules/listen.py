#!/usr/bin/python
# Copyright: portplan contributors
# Apache License 2.0 (see LICENSE in the portplan repository)
"""Ansible module portplan.portplan.listen: temporary listeners on a managed host."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: listen
short_description: Open temporary listeners on the ports a host must accept
version_added: "0.2.0"
description:
  - Opens every listener it is given for a bounded time, so that a path can be proven before
    the product is installed, as C(portplan listen) does. TCP listeners greet with a token and
    close; UDP sockets answer the probe's datagram alone, with the same token in as many
    bytes (no other datagram is answered), which M(portplan.portplan.probe) recognises
    (C(temporary_listener) in its records).
  - A port already in use is never taken over; it is reported in RV(failed_listeners) and
    left alone.
  - "Run it with C(async) and C(poll: 0) so that the play goes on while it listens. It writes
    O(ready_file) once every socket is bound (wait for it with M(ansible.builtin.wait_for)),
    and stops when O(duration) has passed or when O(ready_file) is removed, whichever comes
    first."
  - Opening listeners changes nothing that lasts; in check mode nothing is opened.
author:
  - portplan contributors (@portplan)
requirements:
  - Python 3.11 or newer on the managed host (standard library only).
options:
  listeners:
    description: The sockets to open.
    type: list
    elements: dict
    required: true
    suboptions:
      address:
        description:
          - The local address to listen on (one of the host's own, or 127.0.0.1).
          - An address that is no single address of the host (C(0.0.0.0), C(::), multicast,
            broadcast, or not an IP address) is never listened on; it is reported in
            RV(failed_listeners).
        type: str
        required: true
      port:
        description: The port.
        type: int
        required: true
      protocol:
        description: The transport protocol.
        type: str
        choices: [tcp, udp]
        required: true
      flows:
        description: The flow ids the listener serves (reported back).
        type: list
        elements: str
        default: []
  duration:
    description: Seconds to listen at most.
    type: float
    default: 600
  ready_file:
    description:
      - A file written (JSON, with RV(engine_version), RV(listening) and RV(failed_listeners))
        once every socket is bound; removing it stops the listeners.
      - It must not exist yet (one left by an earlier run is refused, never overwritten), and
        its directory must.
    type: path
notes:
  - Check mode is supported; nothing is opened in check mode.
seealso:
  - module: portplan.portplan.probe
"""

EXAMPLES = r"""
- name: Listen on the database port for ten minutes, in the background
  portplan.portplan.listen:
    listeners:
      - {address: 192.0.2.20, port: 1433, protocol: tcp, flows: [shopping-6.1/central-sql]}
    duration: 600
    ready_file: /tmp/portplan-listen.json
  async: 660
  poll: 0

- name: Wait until the listeners are up
  ansible.builtin.wait_for:
    path: /tmp/portplan-listen.json
    timeout: 30

- name: Stop them once the sources have probed
  ansible.builtin.file:
    path: /tmp/portplan-listen.json
    state: absent
"""

RETURN = r"""
engine_version:
  description:
    - The portplan version of the engine the module carries; C(portplan verify --inventory)
      reads no ready file of an engine other than its own.
  returned: always
  type: str
  sample: 0.2.0
listening:
  description: The listeners that were open.
  returned: always
  type: list
  elements: dict
  sample: [{address: 192.0.2.20, port: 1433, protocol: tcp, flows: [shopping-6.1/central-sql]}]
failed_listeners:
  description: The listeners that could not be opened, each with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{address: 192.0.2.20, port: 22, protocol: tcp, flows: [], reason: "in use by another program: left alone"}]
"""

import asyncio
import json
import os
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible_collections.portplan.portplan.plugins.module_utils.engine._version import __version__ as ENGINE_VERSION
    from ansible_collections.portplan.portplan.plugins.module_utils.engine.model.protocol import Protocol
    from ansible_collections.portplan.portplan.plugins.module_utils.engine.probe.listen import Binding, serve
except ImportError:
    ENGINE_ERROR = traceback.format_exc()
else:
    ENGINE_ERROR = None

#: seconds between two looks at whether the ready file is still there
WATCH_INTERVAL = 0.5


def _item(binding, reason=None):
    item = {
        "address": binding.address,
        "port": binding.port,
        "protocol": binding.protocol.value,
        "flows": list(binding.flows),
    }
    if reason is not None:
        item["reason"] = reason
    return item


async def _listen(bindings, duration, ready_file):
    stop = asyncio.Event()
    written = asyncio.Event()  # the ready file is there: from now on, its removal stops us

    def ready(opened, failed):
        if ready_file:
            handle, partial = tempfile.mkstemp(
                dir=os.path.dirname(ready_file) or ".", prefix=".portplan-listen-"
            )
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    json.dump(
                        {
                            "engine_version": ENGINE_VERSION,
                            "listening": [_item(b) for b in opened],
                            "failed_listeners": [_item(b, why) for b, why in failed],
                        },
                        out,
                    )
                os.replace(partial, ready_file)
            finally:
                if os.path.exists(partial):
                    os.unlink(partial)
            written.set()

    async def watch():
        if not ready_file:
            return
        await written.wait()  # binding may take longer than a look: no file yet is no stop
        while not stop.is_set():
            await asyncio.sleep(WATCH_INTERVAL)
            if not os.path.exists(ready_file):
                stop.set()

    watcher = asyncio.ensure_future(watch())
    try:
        return await serve(bindings, duration, stop, ready)
    finally:
        watcher.cancel()


def main():
    module = AnsibleModule(
        argument_spec={
            "listeners": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "address": {"type": "str", "required": True},
                    "port": {"type": "int", "required": True},
                    "protocol": {"type": "str", "choices": ["tcp", "udp"], "required": True},
                    "flows": {"type": "list", "elements": "str", "default": []},
                },
            },
            "duration": {"type": "float", "default": 600},
            "ready_file": {"type": "path"},
        },
        supports_check_mode=True,
    )
    if ENGINE_ERROR is not None:
        module.fail_json(
            msg="portplan's listener cannot be loaded (it needs Python 3.11 or newer)",
            exception=ENGINE_ERROR,
        )
    params = module.params
    if not 0 < params["duration"] <= 86400:
        module.fail_json(msg="duration must be more than 0 and at most 86400 seconds")
    bindings = []
    for item in params["listeners"]:
        if not 1 <= item["port"] <= 65535:
            module.fail_json(msg="no port %d" % item["port"])
        bindings.append(
            Binding(
                address=item["address"],
                port=item["port"],
                protocol=Protocol(item["protocol"]),
                flows=tuple(item["flows"]),
            )
        )
    ready_file = params["ready_file"]
    if ready_file and os.path.lexists(ready_file):
        module.fail_json(
            msg="ready_file %s already exists: it is never overwritten (a ready file an earlier "
            "run left behind would read as this one's): remove it, or name another" % ready_file
        )
    if ready_file and not os.path.isdir(os.path.dirname(ready_file) or "."):
        module.fail_json(
            msg="ready_file %s: no directory %s to write it in"
            % (ready_file, os.path.dirname(ready_file))
        )
    if module.check_mode:
        module.exit_json(
            changed=False, engine_version=ENGINE_VERSION, listening=[], failed_listeners=[]
        )
    try:
        opened, failed = asyncio.run(_listen(bindings, params["duration"], ready_file))
    except OSError as exc:  # the ready file could not be written: the listeners are closed
        module.fail_json(msg="ready_file %s cannot be written: %s" % (ready_file, exc))
    if params["ready_file"] and os.path.exists(params["ready_file"]):
        os.unlink(params["ready_file"])
    module.exit_json(
        changed=False,
        engine_version=ENGINE_VERSION,
        listening=[_item(b) for b in opened],
        failed_listeners=[_item(b, why) for b, why in failed],
    )


if __name__ == "__main__":
    main()
