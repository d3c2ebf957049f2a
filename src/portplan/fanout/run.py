"""Ansible runs the collection's modules on every host: listeners first, then every source
probes in parallel; each host's result is collected as it arrives (ansible-runner events)."""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_bytes, token_hex
from typing import Any

import yaml

from portplan._errors import ToolError, UsageError
from portplan._signals import first_ctrl_c
from portplan.fanout.engine import ENGINE_VERSION, INSTALL, other_engine
from portplan.fanout.merge import HostResult, host_result, merge
from portplan.fanout.playbook import (
    LISTEN_DURATION,
    LISTENING,
    PROBE,
    PROBE_TIMEOUT,
    STOPPING,
    UNKNOWN,
    encoded,
    groups,
    overlay_name,
    plays,
)
from portplan.fanout.work import Fanout, plan_fanout
from portplan.load.inventory import ansible_tool, inventory_text, read_inventory
from portplan.plan import Plan
from portplan.probe.outcomes import Outcome
from portplan.probe.verification import Verification
from portplan.probe.verify import default_deadline

__all__ = [
    "DEFAULT_FORKS",
    "LISTEN_DURATION",
    "PROBE_GRACE",
    "FanoutRun",
    "HostResult",
    "run_fanout",
    "verify_inventory",
]

log = logging.getLogger("portplan")

#: hosts Ansible works on at once unless told (--forks): each fork is a Python process of
#: its own (about 17 MiB), and on a small controller more forks are slower, not faster
#: (benchmarks/fanout.py: 50 sources on 2 cores took 28 s with 10 forks, 38 s with 50)
DEFAULT_FORKS = 10
#: the probe module's option for each secret an identifier reads (``ProbeContext.secrets``);
#: ``verify --inventory`` gives it as ``<option>_sealed``: :data:`SEAL` random bytes before
#: the secret, in base64
SECRET_OPTIONS = {"radius": "radius_secret", "snmp": "snmp_community"}
#: random bytes before a secret the probe task is given (``<option>_sealed``)
SEAL = 16
#: the environment variable that hands ansible-playbook a sealed secret (``{option}``: its
#: module option in capitals), which the probe task reads with a lookup: a task's arguments as
#: written are shown and kept (the task's banner with ANSIBLE_DISPLAY_ARGS_TO_STDOUT, into
#: ANSIBLE_LOG_PATH; callbacks that record the playbook), and base64 hides nothing; what a
#: lookup returns for a no_log option is not
_SEALED_SECRET = "PORTPLAN_FANOUT_{option}_SEALED"
#: seconds beyond its deadline a source's probe task may take (SSH, the interpreter's start,
#: the bundled engine's import) before Ansible ends it: a host that never answers is
#: not-run, and the run ends
PROBE_GRACE = 60
#: the settings that have ansible-playbook ask for a password when it starts
_PROMPTS = ("ANSIBLE_ASK_PASS", "ANSIBLE_BECOME_ASK_PASS", "ANSIBLE_ASK_VAULT_PASS")
#: seconds between two looks at whether the run was interrupted (Ctrl-C)
_CANCEL_CHECK = 0.25
#: where the repository keeps the collection, for a portplan run from a source checkout
_CHECKOUT_COLLECTIONS = Path(__file__).resolve().parents[3]


@dataclass(slots=True, kw_only=True)
class FanoutRun:
    """What one ``verify --inventory`` run found, and how long its parts took."""

    verification: Verification
    fanout: Fanout
    results: dict[str, HostResult] = field(default_factory=dict)
    wall: float = 0.0  #: seconds from starting Ansible to the last result
    listener_problems: list[str] = field(default_factory=list)

    @property
    def probing(self) -> float:
        """Seconds of probing on the slowest source (the rest of ``wall`` is Ansible's)."""
        return max((r.elapsed or 0.0 for r in self.results.values()), default=0.0)


def _collections() -> dict[str, str]:
    """ANSIBLE_COLLECTIONS_PATH, when portplan runs from a source checkout: the checkout's own
    collection first, then the operator's.  Otherwise nothing: Ansible looks for the
    installed collection where its own configuration says (``ANSIBLE_COLLECTIONS_PATH``,
    ``collections_path`` in ``ansible.cfg``, where ``ansible-galaxy`` installed it)."""
    own = _CHECKOUT_COLLECTIONS
    if not (own / "ansible_collections" / "portplan" / "portplan" / "galaxy.yml").exists():
        return {}
    paths = [str(own)]
    paths += [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
    paths.append(str(Path.home() / ".ansible" / "collections"))
    paths.append("/usr/share/ansible/collections")
    return {"ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(dict.fromkeys(paths))}


def _overlay(fanout: Fanout, deadline: float | None = None, *, tag: str) -> dict[str, Any]:
    """An inventory that adds each host's work to the operator's inventory, as host vars
    (encoded: see :func:`encoded`), and how long its probe task may take: its ``deadline``
    (by default as the host works it out, :func:`default_deadline`) and
    :data:`PROBE_GRACE`; and the groups the plays target (:func:`groups`)."""
    hosts: dict[str, dict[str, Any]] = {}
    for work in fanout.sources.values():
        own = hosts.setdefault(work.inventory_host.name, {})
        own["portplan_probes"] = encoded(work.requests)
        seconds = default_deadline(work.checks) if deadline is None else deadline
        own[PROBE_TIMEOUT] = math.ceil(seconds) + PROBE_GRACE
    for dest in fanout.destinations.values():
        hosts.setdefault(dest.inventory_host.name, {})["portplan_listeners"] = encoded(
            dest.listeners
        )
    sources, destinations = groups(tag)
    names = {
        sources: [w.inventory_host.name for w in fanout.sources.values()],
        destinations: [w.inventory_host.name for w in fanout.destinations.values()],
    }
    children = {group: {"hosts": dict.fromkeys(n)} for group, n in names.items() if n}
    return {"all": {"hosts": hosts, "children": children}}


def _reason(res: Mapping[str, Any]) -> str:
    message = str(res.get("msg") or res.get("reason") or "no message")
    return " ".join(message.split())


def run_fanout(
    fanout: Fanout,
    inventory: Sequence[Path],
    *,
    forks: int | None = None,
    timeout: float = 1.0,
    concurrency: int = 2048,
    second_look: bool = True,
    identify_services: bool = True,
    secrets: Mapping[str, bytes] | None = None,
    deadline: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FanoutRun:
    """Run the fanout's playbook with ``forks`` hosts at once (by default every host, up to
    :data:`DEFAULT_FORKS`); every source's result.  ``secrets`` (by the name identifiers read
    them by, as ``portplan.verify``'s: ``radius``, ``snmp``) reach the probe task sealed,
    through the environment (see :data:`_SEALED_SECRET`).

    :class:`ToolError` when Ansible itself cannot run (no ansible-playbook, a playbook
    error); a host Ansible cannot reach or where probing fails is a result, never an error.
    """
    try:
        import ansible_runner.interface  # noqa: PLC0415 - an optional dependency: portplan[ansible]
    except ImportError as exc:
        raise ToolError(
            "verify --inventory runs Ansible through ansible-runner, which is not installed: "
            "pip install 'portplan[ansible]'"
        ) from exc
    by_inventory = {w.inventory_host.name: w.host for w in fanout.sources.values()}
    destination_of = {w.inventory_host.name: w.host for w in fanout.destinations.values()}
    probe_options: dict[str, Any] = {
        "timeout": timeout,
        "concurrency": concurrency,
        "second_look": second_look,
        "identify_services": identify_services,
    }
    hidden: dict[str, str] = {}  # the environment that holds what no output may show
    for name, secret in sorted((secrets or {}).items()):
        if not secret:
            continue
        if name not in SECRET_OPTIONS:
            raise ValueError(f"the probe module takes no secret named {name!r}")
        option = SECRET_OPTIONS[name]
        variable = _SEALED_SECRET.format(option=option.upper())
        # sealed: Ansible hides a no_log value wherever it occurs in the module's result, and
        # a secret such as "open" or "127" would hide outcomes and addresses; 16 random bytes
        # before it make the hidden text one that occurs nowhere else (and base64 is no
        # template either)
        hidden[variable] = base64.b64encode(token_bytes(SEAL) + secret).decode("ascii")
        probe_options[f"{option}_sealed"] = f"{{{{ lookup('ansible.builtin.env', '{variable}') }}}}"
    if deadline is not None:
        probe_options["deadline"] = deadline
    # one file per host (hosts may share a file system: containers, namespaces, NFS homes)
    ready_file = f"/tmp/portplan-listen-{token_hex(8)}-{{{{ inventory_hostname }}}}.json"
    results: dict[str, HostResult] = {}
    problems: list[str] = []
    total = len(fanout.sources)

    def handle(event: dict[str, Any]) -> bool:
        data = event.get("event_data") or {}
        kind = event.get("event", "")
        name = data.get("host")
        action = data.get("task_action") or data.get("resolved_action") or ""
        res = data.get("res") or {}
        if kind == "runner_on_failed" and data.get("task") == UNKNOWN:
            if name in by_inventory:
                results[by_inventory[name]] = HostResult(
                    outcome=Outcome.NOT_RUN, reason=_reason(res)
                )
            if name in destination_of and data.get("play") == LISTENING:
                problems.append(f"listeners on {destination_of[name]} ({name}): {_reason(res)}")
            action = PROBE if name in by_inventory else action  # a source's result: progress
        elif kind == "runner_on_unreachable" and name in by_inventory and action == PROBE:
            results[by_inventory[name]] = HostResult(
                outcome=Outcome.SOURCE_UNREACHABLE, reason=_reason(res)
            )
        elif kind == "runner_on_failed" and name in by_inventory and action == PROBE:
            results[by_inventory[name]] = HostResult(outcome=Outcome.NOT_RUN, reason=_reason(res))
        elif kind == "runner_on_ok" and name in by_inventory and action == PROBE:
            results[by_inventory[name]] = host_result(res)
        elif name in destination_of and kind in ("runner_on_failed", "runner_on_unreachable"):
            if str(data.get("task") or "").startswith(STOPPING):
                problems.append(
                    f"listeners on {destination_of[name]} ({name}) may still be up: "
                    f"{_reason(res)} (they stop by themselves within {LISTEN_DURATION:g} s)"
                )
                return False
            problems.append(
                f"listeners on {destination_of[name]} ({name}): {_reason(res)}; its flows are "
                "probed without them"
            )
        elif name in destination_of and kind == "runner_on_ok" and "content" in res:
            opened = _ready_report(res["content"])
            if opened is None:
                problems.append(
                    f"listeners on {destination_of[name]} ({name}): their ready file is not "
                    "the listen module's report; which listeners could not open is not known"
                )
                return False
            other = other_engine(opened.get(ENGINE_VERSION))
            if other is not None:
                # its listeners are up and answer the probes all the same: say so, and
                # read nothing of another engine's report as this one's
                problems.append(
                    f"listeners on {destination_of[name]} ({name}): {other}: its report of "
                    f"the listeners it could not open is not read; {INSTALL}"
                )
                return False
            for item in opened["failed_listeners"]:
                problems.append(
                    f"{destination_of[name]}: no listener on {item['address']} "
                    f"{item['protocol']}/{item['port']}: {item['reason']}"
                )
        else:
            return False
        if progress is not None and action == PROBE:
            progress(len(results), total)
        return False  # nothing is kept on disk: every result is held here

    def forget_environment(status: Mapping[str, Any], runner_config: Any) -> None:
        # ansible-runner writes the environment it starts ansible-playbook with, the sealed
        # secrets in it, to artifacts/<ident>/command, and reads it no more: gone before
        # ansible-playbook starts, so that a run killed (its temporary directory left behind)
        # leaves no secret on disk
        if status.get("status") == "running":
            Path(runner_config.artifact_dir, "command").unlink(missing_ok=True)

    with tempfile.TemporaryDirectory(prefix="portplan-ansible-") as tmp, first_ctrl_c() as stopped:
        root = Path(tmp)
        (root / "project").mkdir()
        playbook = root / "project" / "verify.yml"
        tag = token_hex(8)
        overlay = root / overlay_name(tag)
        playbook.write_text(
            yaml.safe_dump(plays(fanout, ready_file, probe_options=probe_options, tag=tag))
        )
        overlay.write_text(json.dumps(_overlay(fanout, deadline, tag=tag)))  # JSON is YAML
        started = time.monotonic()
        try:
            runner = ansible_runner.interface.init_runner(
                private_data_dir=tmp,
                playbook=str(playbook),
                inventory=[*(str(path.resolve()) for path in inventory), str(overlay)],
                forks=forks or min(DEFAULT_FORKS, max(1, len(by_inventory))),
                envvars={
                    # ansible-runner starts `ansible-playbook` from PATH: this environment's
                    "PATH": os.pathsep.join(
                        [str(Path(ansible_tool("ansible-playbook")).parent), os.environ["PATH"]]
                    ),
                    **_collections(),
                    "ANSIBLE_RETRY_FILES_ENABLED": "false",
                    # one SSH exchange per module instead of three (put, run, clean up);
                    # the probe needs no become, so no sudo tty question arises
                    "ANSIBLE_PIPELINING": os.environ.get("ANSIBLE_PIPELINING", "true"),
                    "ANSIBLE_NOCOLOR": "true",
                    # no one answers a prompt (ask_pass, become_ask_pass, ask_vault_pass in
                    # ansible.cfg): it would wait for ever; a host that needs a password
                    # fails with Ansible's reason instead
                    **dict.fromkeys(_PROMPTS, "false"),
                    **hidden,
                },
                event_handler=handle,
                status_handler=forget_environment,
                # Ctrl-C ends Ansible (its process group) within a quarter of a second, and
                # the results that came before it are reported; given no callback of ours,
                # ansible-runner would set its own handlers of SIGINT and SIGTERM for good,
                # and end a run it cancelled with no results
                cancel_callback=stopped.is_set,
                settings={"pexpect_timeout": _CANCEL_CHECK},
                quiet=True,
                suppress_env_files=True,
            )
            # ansible-runner starts ansible-playbook in its temporary project folder: it
            # would read no ./ansible.cfg (the operator's remote_user, private_key_file,
            # inventory plugins) and take a relative path of the inventory (a key) from
            # there; ansible-inventory read the inventory from here, and so does Ansible
            runner.config.cwd = os.getcwd()
            runner.run()
        except (OSError, RuntimeError) as exc:
            raise ToolError(f"Ansible could not run: {exc}") from exc
        wall = time.monotonic() - started
        if stopped.is_set():
            if fanout.destinations:
                problems.append(
                    "interrupted: the destinations' temporary listeners may still be up (they "
                    f"stop by themselves within {LISTEN_DURATION:g} s)"
                )
            return FanoutRun(
                verification=merge(fanout, results, interrupted=True),
                fanout=fanout,
                results=results,
                wall=wall,
                listener_problems=problems,
            )
        if runner.status not in ("successful", "failed") or (not results and fanout.sources):
            # the end of what it printed (ansible-runner's `stdout` property opens the file
            # anew at each use, and raises when there is none)
            try:
                printed = (Path(runner.config.artifact_dir) / "stdout").read_text(errors="replace")
            except OSError:
                printed = ""
            output = " ".join(printed.split()[-60:])
            raise ToolError(
                f"ansible-playbook ended with status {runner.status} "
                f"(rc {runner.rc}) before any source reported: {output}"
            )
    verification = merge(fanout, results)
    return FanoutRun(
        verification=verification,
        fanout=fanout,
        results=results,
        wall=wall,
        listener_problems=problems,
    )


def verify_inventory(
    plan: Plan,
    inventory: Path | str | Sequence[Path | str],
    *,
    limit: str | None = None,
    flows: Sequence[str] = (),
    listeners: bool = False,
    forks: int | None = None,
    timeout: float = 1.0,
    concurrency: int = 2048,
    second_look: bool = True,
    identify_services: bool = True,
    secrets: Mapping[str, bytes] | None = None,
    deadline: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FanoutRun:
    """Verify, from every source host of ``plan`` in the Ansible ``inventory`` (a source, or
    several that Ansible merges as ``-i A -i B`` does), every planned
    flow that starts there (with ``listeners``: temporary listeners on the destinations
    first); one merged verification.

    ``limit`` (an Ansible host pattern) narrows the inventory hosts, and so the sources (the
    rows of each source it leaves out are not probed, with the reason, and
    ``fanout.left_out`` names those sources);
    ``deadline`` bounds each source's probing (seconds; default as ``portplan verify``'s);
    ``secrets`` are the identifiers' (``{"radius": ..., "snmp": ...}``), as ``verify``'s.
    Blocks until every source has answered or failed.
    """
    if limit is not None and not limit.strip():
        # Ansible reads no pattern as every host; taken as a limit, it would leave out every
        # source the inventory lacks instead of saying so
        raise UsageError(
            f"--limit {limit!r} names no hosts: give an Ansible host pattern (a host, a group), "
            "or leave --limit out to verify from every source"
        )
    paths = [Path(inventory)] if isinstance(inventory, str | Path) else list(map(Path, inventory))
    hosts = read_inventory(paths, limit=limit)
    fanout = plan_fanout(
        plan,
        hosts,
        where=inventory_text(paths),
        flows=flows,
        listeners=listeners,
        limit=limit,
    )
    log.info(
        "verifying %d probes from %d sources through Ansible",
        fanout.probes,
        len(fanout.sources),
    )
    return run_fanout(
        fanout,
        paths,
        forks=forks,
        timeout=timeout,
        concurrency=concurrency,
        second_look=second_look,
        identify_services=identify_services,
        secrets=secrets,
        deadline=deadline,
        progress=progress,
    )


#: what each item of a ready file's ``failed_listeners`` holds
_FAILED_KEYS = ("address", "protocol", "port", "reason")


def _ready_report(content: object) -> dict[str, Any] | None:
    """The listen module's ready file, slurped (base64 of JSON), with ``failed_listeners``
    a list of complete items; ``None`` for anything else (a file garbled on the way, or not
    the module's), which must not end the run in a traceback."""
    try:
        opened = json.loads(base64.b64decode(str(content), validate=True))
    except (ValueError, RecursionError):
        return None
    if not isinstance(opened, dict):
        return None
    failed = opened.setdefault("failed_listeners", [])
    if not isinstance(failed, list) or not all(
        isinstance(item, dict) and all(key in item for key in _FAILED_KEYS) for item in failed
    ):
        return None
    return opened
