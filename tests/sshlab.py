"""Managed hosts for Ansible in network namespaces: each runs its own sshd (Debian's
openssh-server) with a host key and an authorized key the test generates, on an address of
its node and a port nothing else there uses.  Ansible reaches them from another node (the
controller), so every packet stays inside the test's namespaces."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from netns import Address, NetnsError, Node, Topology, run

SSHD = "/usr/sbin/sshd"
#: seconds an sshd may take to listen
SSHD_READY = 15.0
#: the Python of the managed hosts: the system's, standard library only
TARGET_PYTHON = "/usr/bin/python3"


def unavailable() -> str | None:
    """Why these hosts cannot be built here (``None`` when they can)."""
    if not Path(SSHD).exists():
        return "needs Debian's openssh-server (/usr/sbin/sshd)"
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "needs the OpenSSH client (ssh, ssh-keygen)"
    if not Path(TARGET_PYTHON).exists():
        return f"needs {TARGET_PYTHON} on the managed hosts"
    return None


@dataclass(slots=True)
class SshLab:
    """The keys, and the sshd of each node started so far."""

    directory: Path
    port: int
    key: Path = field(init=False)
    host_key: Path = field(init=False)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key = self.directory / "id_ed25519"
        self.host_key = self.directory / "ssh_host_ed25519_key"
        for path in (self.key, self.host_key):
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)])
        (self.directory / "authorized_keys").write_text(self.key.with_suffix(".pub").read_text())
        # sshd refuses to start without its privilege separation directory (the package
        # makes it when the service starts, which the tests never let it do)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)

    def start(self, topo: Topology, node: Node, address: Address) -> None:
        """sshd in ``node``'s namespace on ``address`` (root logs in with the test's key)."""
        config = self.directory / f"sshd-{node.name.strip('~')}.conf"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    f"ListenAddress {address}",
                    f"HostKey {self.host_key}",
                    f"AuthorizedKeysFile {self.directory / 'authorized_keys'}",
                    "PidFile none",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "MaxSessions 50",
                    "MaxStartups 100",
                    "Subsystem sftp internal-sftp",
                    "LogLevel INFO",
                    "",
                ]
            )
        )
        process = subprocess.Popen(
            ["ip", "netns", "exec", node.netns, SSHD, "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        assert process.stderr is not None
        for line in process.stderr:  # bounded: sshd says it listens, or exits
            if "Server listening" in line:
                return
        process.wait(timeout=SSHD_READY)
        raise NetnsError(f"sshd in {node.name} did not start (exit {process.returncode})")

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
            if process.stderr is not None:
                process.stderr.close()
        self.processes.clear()

    def inventory(
        self, hosts: Mapping[str, Address], *, groups: Mapping[str, str] | None = None
    ) -> str:
        """An Ansible inventory of ``hosts`` (inventory name → address); ``groups`` maps an
        inventory host to the deployment host it stands for (``portplan_host``)."""
        entries: dict[str, dict[str, object]] = {}
        for name, address in hosts.items():
            entry: dict[str, object] = {"ansible_host": str(address)}
            if groups and name in groups:
                entry["portplan_host"] = groups[name]
            entries[name] = entry
        return yaml.safe_dump(
            {
                "all": {
                    "vars": {
                        "ansible_user": "root",
                        "ansible_port": self.port,
                        "ansible_ssh_private_key_file": str(self.key),
                        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no "
                        "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
                        "ansible_python_interpreter": TARGET_PYTHON,
                    },
                    "hosts": entries,
                }
            },
            sort_keys=False,
        )


@contextlib.contextmanager
def ssh_lab(directory: Path, port: int) -> Iterator[SshLab]:
    """An :class:`SshLab` whose sshd processes are stopped however the block ends."""
    lab = SshLab(directory, port)
    try:
        yield lab
    finally:
        lab.close()
