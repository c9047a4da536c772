#!/usr/bin/env bash
# Writes a screenshot of the status page: builds gatehouse, starts the example gateway
# (`gatehouse start --example`) on free loopback ports, sends it some traffic, logs in to
# /status through headless chromium and captures the page. It is the browser test of
# tests/browser with GATEHOUSE_STATUS_SCREENSHOT set, so the picture is of a page that passed it.
#
#   scripts/status-screenshot.sh [OUT.png]      (default docs/status.png)
#
# Needs chromium (apt-get install -y chromium) or GATEHOUSE_CHROMIUM pointing at a Chrome.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/status.png}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
(cd tests/browser && GATEHOUSE_REQUIRE_CHROMIUM=1 GATEHOUSE_STATUS_SCREENSHOT="$out" \
  go test -trimpath -count=1 -run 'TestStatusPage$' ./...)
echo "wrote $out ($(wc -c <"$out") bytes)"
