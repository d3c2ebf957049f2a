"""The playbook ``verify --inventory`` has Ansible run: temporary listeners on the
destinations first, then every source probes, then the listeners stop; and how each host's
work reaches its tasks as text Ansible renders nothing in."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from portplan.fanout.work import Fanout

__all__ = [
    "LISTENING",
    "LISTEN_DURATION",
    "LISTEN_JOB",
    "LISTEN_READY_TIMEOUT",
    "PROBE",
    "PROBE_TIMEOUT",
    "STOPPING",
    "STOP_RETRIES",
    "UNKNOWN",
    "UNKNOWN_REASON",
    "decoded",
    "encoded",
    "groups",
    "overlay_name",
    "plays",
]

#: seconds temporary listeners stay up at most (they stop as soon as the sources are done)
LISTEN_DURATION = 900.0
#: seconds a destination's listeners may take to come up
LISTEN_READY_TIMEOUT = 60
PROBE = "portplan.portplan.probe"
#: the host variable that holds the listener's async job, and the stop tasks' name
LISTEN_JOB = "portplan_listen_job"
STOPPING = "stop listening"
LISTENING = "portplan: temporary listeners on the destinations"
#: the task first in every play that stops a host the operator's inventory, read again by
#: ansible-playbook, no longer holds (a dynamic inventory that failed or changed since): the
#: overlay's variables alone still make it a host, which Ansible would reach by its bare
#: name, with none of the inventory's connection settings (another machine, maybe)
UNKNOWN = "portplan: the inventory holds this host"
UNKNOWN_REASON = (
    "not in the inventory when ansible-playbook read it again (a dynamic inventory that "
    "failed or changed since portplan read it): not reached by its bare name, which may be "
    "another machine"
)
#: seconds (one try a second) a listener may take to end once its ready file is gone
STOP_RETRIES = 30
#: the host variable that holds how long a source's probe task may take
PROBE_TIMEOUT = "portplan_probe_timeout"


def groups(tag: str) -> tuple[str, str]:
    """The groups of the sources and of the destinations in the inventory of portplan's host
    variables (``tag`` names one run's): the plays target them, never the hosts' names, which
    Ansible would render as templates (a name is the inventory's text, from cloud tags say:
    ``a{{ lookup('pipe', ...) }}`` would run on the controller)."""
    return f"portplan_sources_{tag}", f"portplan_destinations_{tag}"


def overlay_name(tag: str) -> str:
    """The file name of the inventory of portplan's host variables (portplan.fanout.run)."""
    return f"portplan-hosts-{tag}.yml"


def plays(
    fanout: Fanout, ready_file: str, *, probe_options: Mapping[str, Any], tag: str
) -> list[dict[str, Any]]:
    """The plays, on the :func:`groups` of ``tag``; a host Ansible found first in the overlay
    (:func:`overlay_name`) is one the operator's inventory no longer holds."""
    sources, destinations = groups(tag)
    stranger = f"(inventory_file | default('') or '') | basename == '{overlay_name(tag)}'"
    # every task's result is read (its failure's message too): an Ansible with no_log on by
    # default (ANSIBLE_NO_LOG, no_log in ansible.cfg) hides them from the events they arrive
    # in; they hold no secret (the probe module hides its own secret options)
    shown = {"no_log": False}
    keep_going = {"ignore_errors": True, "ignore_unreachable": True, **shown}
    known = {**keep_going, "when": f"not ({stranger})"}
    guard = {
        "name": UNKNOWN,
        "ansible.builtin.fail": {"msg": UNKNOWN_REASON},
        "when": stranger,
        "ignore_errors": True,
        **shown,
    }
    found: list[dict[str, Any]] = []
    if fanout.destinations:
        found.append(
            {
                "name": LISTENING,
                "hosts": destinations,
                "gather_facts": False,
                "tasks": [
                    guard,
                    {
                        "name": "listen",
                        "portplan.portplan.listen": {
                            "listeners": decoded("portplan_listeners"),
                            "duration": LISTEN_DURATION,
                            "ready_file": ready_file,
                        },
                        "async": int(LISTEN_DURATION) + 60,
                        "poll": 0,
                        "register": LISTEN_JOB,
                        **known,
                    },
                    {
                        "name": "listeners ready",
                        "ansible.builtin.wait_for": {
                            "path": ready_file,
                            "timeout": LISTEN_READY_TIMEOUT,
                        },
                        **known,
                    },
                    {
                        "name": "listeners",
                        "ansible.builtin.slurp": {"src": ready_file},
                        **known,
                    },
                ],
            }
        )
    found.append(
        {
            "name": "portplan: probe from every source",
            "hosts": sources,
            "gather_facts": False,
            "tasks": [
                guard,
                {
                    "name": "probe",
                    PROBE: {"probes": decoded("portplan_probes"), **probe_options},
                    "timeout": f"{{{{ {PROBE_TIMEOUT} }}}}",
                    **known,
                },
            ],
        }
    )
    if fanout.destinations:
        found.append(
            {
                "name": "portplan: stop the listeners",
                "hosts": destinations,
                "gather_facts": False,
                "tasks": [
                    {
                        "name": STOPPING,
                        "ansible.builtin.file": {"path": ready_file, "state": "absent"},
                        "when": f"{LISTEN_JOB}.ansible_job_id is defined",  # it started
                        **keep_going,
                    },
                    # the listener's job ends on its own once the file is gone; its result
                    # file in the host's async directory stays unless it is cleaned up
                    {
                        "name": STOPPING + ": wait for the listener to end",
                        "ansible.builtin.async_status": {
                            "jid": f"{{{{ {LISTEN_JOB}.ansible_job_id }}}}"
                        },
                        "register": "portplan_listen_done",
                        "until": "portplan_listen_done.finished",
                        "retries": STOP_RETRIES,
                        "delay": 1,
                        "when": f"{LISTEN_JOB}.ansible_job_id is defined",
                        **keep_going,
                    },
                    {
                        "name": STOPPING + ": remove the listener's job file",
                        "ansible.builtin.async_status": {
                            "jid": f"{{{{ {LISTEN_JOB}.ansible_job_id }}}}",
                            "mode": "cleanup",
                        },
                        "when": f"{LISTEN_JOB}.ansible_job_id is defined",
                        **keep_going,
                    },
                ],
            }
        )
    return found


def encoded(value: Any) -> str:
    """``value`` as base64 of its JSON: text Ansible has nothing to render in.

    Ansible renders the strings of its inventory and task arguments as Jinja2 templates, also
    the strings nested in a variable's value: a product's document title ``Vendor doc {{
    lookup('pipe', 'id') }}`` would run a command on the controller.  (Its ``!unsafe`` tag
    would not do: it reads ``"1e3"`` back as a number.)  The task decodes it with filters,
    whose results Ansible does not render again.
    """
    return base64.b64encode(json.dumps(value).encode()).decode("ascii")


def decoded(variable: str) -> str:
    """The task argument that decodes the host variable ``variable`` (see :func:`encoded`)."""
    return f"{{{{ {variable} | b64decode | from_json }}}}"
