#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine (run as root), then run the
# linters, the type checker and the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# python3-venv for the virtual environment; nftables, iptables and iproute2 for the network
# namespace tests; nginx, openssl, postfix, dovecot-pop3d, postgresql and
# rabbitmq-server for the identifier tests, which start their own instances on loopback; slapd,
# samba (smbd, samba-dcerpcd) and freeradius for the directory identifier tests, likewise;
# chrony for the NTP identifier tests, which run their own chronyd (-x: never the clock);
# snmpd for the SNMP identifier tests, which run their own agent in the foreground;
# dnsmasq-base for the DNS tests of verify, which run their own dnsmasq in a namespace;
# graphviz for `portplan diagram` and the report's diagrams (dot lays them out), and chromium
# with chromium-driver for the browser tests of the HTML report (selenium drives Debian's own
# browser: nothing is downloaded at run time), fonts-dejavu-core for the fonts both draw with;
# openssh-server and openssh-client for verify --inventory, whose test hosts are namespaces
# each running its own sshd that Ansible reaches over SSH (never the system's sshd service).
# Packaged services must not start at install time: where no policy-rc.d says otherwise, a
# temporary one denies every start (exit 101, see invoke-rc.d(8)) while the packages install.
made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=yes
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends \
    python3 python3-venv python3-pip nftables iptables ipset iproute2 \
    nginx openssl postfix dovecot-pop3d postgresql rabbitmq-server \
    slapd samba freeradius chrony snmpd dnsmasq-base graphviz chromium chromium-driver fonts-dejavu-core \
    openssh-server openssh-client >/dev/null
if [ -n "$made_policy" ]; then
    rm -f /usr/sbin/policy-rc.d
    trap - EXIT
fi

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"portplan needs Python 3.11 or newer; python3 is {sys.version.split()[0]}")
PY
python3 -m venv .venv
# exact versions from the one constraints file; pyproject.toml only says what is compatible
.venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -e '.[test,lint]'

.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy
.venv/bin/lint-imports --no-cache  # the layers contract of pyproject.toml, import by import
.venv/bin/pytest "$@"
