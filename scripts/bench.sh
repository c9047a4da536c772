#!/usr/bin/env bash
# Benchmarks Gatehouse against a bare httputil.ReverseProxy (see bench/main.go). Installs wrk,
# and redis-server (for the *-redis scenarios), from Debian's packages when they are missing,
# then runs the benchmark with the given flags, e.g.
#   scripts/bench.sh --json --duration 10s --rounds 5 --scenarios keyless,keyed,keyed-redis
# --pinned puts each proxy alone on CPU 0 and the load on CPU 1 with taskset (util-linux), which
# must then be installed (docs/performance.md); so must chrt for --latency --realtime.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="/usr/local/go/bin:$PATH"

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
for arg in "$@"; do
  case "$arg" in
    --pinned | -pinned | --pinned=true | -pinned=true)
      command -v taskset >/dev/null 2>&1 || { echo "bench: --pinned needs taskset, which is not installed (apt-get install util-linux)" >&2; exit 1; } ;;
    --realtime | -realtime | --realtime=true | -realtime=true)
      command -v chrt >/dev/null 2>&1 || { echo "bench: --realtime needs chrt, which is not installed (apt-get install util-linux)" >&2; exit 1; } ;;
  esac
done
command -v gcc >/dev/null 2>&1 || { echo "bench: gcc is needed to build Go plugins (apt-get install gcc libc6-dev)" >&2; exit 1; }

exec go run -trimpath ./bench "$@"
