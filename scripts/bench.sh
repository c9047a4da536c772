#!/usr/bin/env bash
# Benchmarks Gatehouse against a bare httputil.ReverseProxy (see bench/main.go). Installs wrk
# from Debian's packages when it is missing, then runs the benchmark with the given flags, e.g.
#   scripts/bench.sh --json --duration 10s --rounds 5 --scenarios keyless,keyed
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="/usr/local/go/bin:$PATH"

if ! command -v wrk >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends wrk
fi
command -v gcc >/dev/null 2>&1 || { echo "bench: gcc is needed to build Go plugins (apt-get install gcc libc6-dev)" >&2; exit 1; }

exec go run -trimpath ./bench "$@"
