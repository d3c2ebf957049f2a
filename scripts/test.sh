#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine (run as root), then run the
# linters, the type checker and the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# python3-venv for the virtual environment; nftables, iptables and iproute2 for the network
# namespace tests.
apt-get install -y -qq --no-install-recommends \
    python3 python3-venv python3-pip nftables iptables ipset iproute2 >/dev/null

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"portplan needs Python 3.11 or newer; python3 is {sys.version.split()[0]}")
PY
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'

.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy
.venv/bin/pytest "$@"
