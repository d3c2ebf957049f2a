#!/usr/bin/env bash
# Regenerate the README's pictures with the tool itself: the component diagram of the Shopping
# example (Graphviz) and a screenshot of the Smart ID example's report (headless chromium,
# started so that it reaches for nothing on the network). Run after scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/portplan diagram examples/shopping-contoso.yaml -o docs/images/shopping-contoso.svg --overwrite
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
.venv/bin/portplan report examples/smart-id-nexus.yaml -o "$work/report.html"
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$work/profile" --window-size=1400,1900 \
    --screenshot="$PWD/docs/images/report.png" "file://$work/report.html" 2>/dev/null
echo "wrote docs/images/shopping-contoso.svg and docs/images/report.png"
