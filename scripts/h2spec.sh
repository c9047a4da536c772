#!/usr/bin/env bash
# HTTP/2 conformance: builds gatehouse, starts it on loopback with TLS and HTTP/2 on a throwaway
# self-signed certificate (and a second one with cleartext HTTP/2, h2c), runs h2spec against each
# and fails when fewer than H2SPEC_MIN (default 139) of its 145 cases pass. See docs/tls.md.
#
#   scripts/h2spec.sh              # installs h2spec with `go install` when it is not on PATH
#   H2SPEC_MIN=141 scripts/h2spec.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$(go env GOPATH)/bin:$PATH"

min=${H2SPEC_MIN:-139}
h2spec_version=v2.2.1+incompatible

if ! command -v h2spec >/dev/null 2>&1; then
  echo "h2spec: installing github.com/summerwind/h2spec@$h2spec_version"
  go install "github.com/summerwind/h2spec/cmd/h2spec@$h2spec_version"
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-h2spec.XXXXXX")
pid=""
cleanup() {
  if [ -n "${echo_pid:-}" ]; then kill "$echo_pid" 2>/dev/null || true; wait "$echo_pid" 2>/dev/null || true; fi
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

go build -trimpath -o "$dir/gatehouse" ./cmd/gatehouse
# A self-signed certificate for 127.0.0.1, with the generator that ships with Go.
(cd "$dir" && go run "$(go env GOROOT)/src/crypto/tls/generate_cert.go" --host 127.0.0.1,localhost \
  --ecdsa-curve P256 --duration 1h >/dev/null 2>&1)
cat "$dir/cert.pem" "$dir/key.pem" >"$dir/both.pem"

# h2spec's requests go through an API to the echo upstream, which reads every request body: the
# cases about malformed bodies are judged while the stream is open, as for real traffic.
echo_pid=""
for _ in 1 2 3 4 5; do
  echo_port=$((20000 + RANDOM % 30000))
  "$dir/gatehouse" echo --listen "127.0.0.1:$echo_port" >"$dir/echo.log" 2>&1 &
  echo_pid=$!
  sleep 0.3
  if kill -0 "$echo_pid" 2>/dev/null; then break; fi
  echo_pid=""
done
if [ -z "$echo_pid" ]; then echo "h2spec: the echo upstream did not start:"; cat "$dir/echo.log"; exit 1; fi
mkdir -p "$dir/apps"
cat >"$dir/apps/h2spec.json" <<EOF
{"api_id": "h2spec", "name": "h2spec", "org_id": "default", "active": true, "use_keyless": true,
 "proxy": {"listen_path": "/", "target_url": "http://127.0.0.1:$echo_port", "strip_listen_path": true},
 "version_data": {"not_versioned": true, "versions": {"Default": {"name": "Default"}}}}
EOF

# start NAME EXTRA_OPTIONS: starts gatehouse on a free port with the given http_server_options
# keys, sets $pid and $port, and waits until it listens.
start() {
  local name=$1 opts=$2
  for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 30000))
    cat >"$dir/$name.conf" <<EOF
{"listen_port": $port, "control_api_port": 0, "secret": "h2spec-secret-0123456789abcdef",
 "app_path": "apps", "log_level": "warn", "http_server_options": {$opts}}
EOF
    "$dir/gatehouse" start --conf "$dir/$name.conf" >"$dir/$name.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
      if ! kill -0 "$pid" 2>/dev/null; then break; fi
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
    if ! grep -q "address already in use" "$dir/$name.log"; then break; fi
  done
  echo "h2spec: gatehouse did not start:"; cat "$dir/$name.log"; exit 1
}

# run NAME H2SPEC_ARGS...: runs h2spec against the started gateway, prints its score and fails
# below the minimum.
run() {
  local name=$1; shift
  local out summary passed total
  out=$(h2spec -h 127.0.0.1 -p "$port" "$@" 2>&1 || true)
  # || true: under pipefail a grep that finds no summary would end the script without a word.
  summary=$(printf '%s\n' "$out" | grep -E '^[0-9]+ tests, [0-9]+ passed' | tail -1 || true)
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
  if [ -z "$summary" ]; then
    printf '%s\n' "$out" | tail -20
    echo "h2spec ($name): no result"; return 2
  fi
  total=${summary%% tests*}
  passed=$(printf '%s' "$summary" | sed -E 's/.* ([0-9]+) passed.*/\1/')
  echo "h2spec ($name): $passed/$total passed"
  if [ "$passed" -lt "$min" ]; then
    printf '%s\n' "$out" | sed -n '/^Failures:/,$p'
    echo "h2spec ($name): fewer than $min cases passed"; exit 1
  fi
}

# check NAME OPTIONS H2SPEC_ARGS...: start and run; h2spec giving no result at all (it did not
# finish its run: seen once in CI, passing when run again) is tried once more. A score below the
# minimum is never retried.
check() {
  local name=$1 opts=$2 rc=0; shift 2
  start "$name" "$opts"
  run "$name" "$@" || rc=$?
  if [ "$rc" = 2 ]; then
    echo "h2spec ($name): running it again"
    start "$name" "$opts"
    rc=0; run "$name" "$@" || rc=$?
  fi
  return "$rc"
}

check tls "\"use_ssl\": true, \"enable_http2\": true,
  \"ssl_certificates\": [\"$dir/both.pem\"]" -t -k
check h2c '"enable_h2c": true'
