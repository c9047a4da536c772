#!/usr/bin/env bash
# Runs a fleet on this machine: one redis-server and three gatehouse nodes sharing it, with an
# echo upstream to put APIs in front of. See docs/fleet.md. Ctrl-C stops everything.
#
#   scripts/fleet.sh                 # Redis on 6380, nodes on 8081-8083 (Gateway API 9691-9693)
#   FLEET_REDIS_PORT=6390 FLEET_PORT=8181 FLEET_API_PORT=9791 scripts/fleet.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

redis_port=${FLEET_REDIS_PORT:-6380}
port=${FLEET_PORT:-8081}
api_port=${FLEET_API_PORT:-9691}
echo_port=${FLEET_ECHO_PORT:-8000}

if ! command -v redis-server >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "fleet: installing redis-server from Debian's packages"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends redis-server
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-fleet.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "fleet: stopped; logs and configs are in $dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "fleet: building gatehouse into $dir"
go build -trimpath -o "$dir/gatehouse" ./cmd/gatehouse

random() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
secret=$(random)
node_secret=$(random)

redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$dir" --save "" \
  --appendonly yes --logfile "$dir/redis.log" --daemonize no &
pids+=($!)
"$dir/gatehouse" echo --listen "127.0.0.1:$echo_port" >"$dir/echo.log" 2>&1 &
pids+=($!)

for i in 1 2 3; do
  node="$dir/node$i"
  mkdir -p "$node/apps"
  cat >"$node/gatehouse.json" <<EOF
{
  "listen_port": $((port + i - 1)),
  "control_api_port": $((api_port + i - 1)),
  "secret": "$secret",
  "node_secret": "$node_secret",
  "app_path": "apps",
  "middleware_path": "middleware",
  "storage": {"type": "redis", "host": "127.0.0.1", "port": $redis_port, "timeout": 1}
}
EOF
  "$dir/gatehouse" start --conf "$node/gatehouse.json" >"$node/gatehouse.log" 2>&1 &
  pids+=($!)
done

for i in 1 2 3; do
  for _ in $(seq 100); do
    if curl -fsS "http://127.0.0.1:$((api_port + i - 1))/hello" >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$((api_port + i - 1))/hello" >/dev/null || { echo "fleet: node $i did not start:"; cat "$dir/node$i/gatehouse.log"; exit 1; }
done

cat <<EOF

fleet: Redis on 127.0.0.1:$redis_port, echo upstream on 127.0.0.1:$echo_port, three gateways:
  node 1: proxy 127.0.0.1:$port  Gateway API 127.0.0.1:$api_port
  node 2: proxy 127.0.0.1:$((port + 1))  Gateway API 127.0.0.1:$((api_port + 1))
  node 3: proxy 127.0.0.1:$((port + 2))  Gateway API 127.0.0.1:$((api_port + 2))
Logs and configs: $dir

Try it (in another terminal):
  export SECRET=$secret
  # an API, stored in Redis through node 1, served by every node after a group reload
  curl -s -H "X-Tyk-Authorization: \$SECRET" -X POST http://127.0.0.1:$api_port/tyk/apis -d '{
    "api_id": "demo", "name": "demo", "active": true, "use_keyless": false,
    "proxy": {"listen_path": "/demo/", "target_url": "http://127.0.0.1:$echo_port", "strip_listen_path": true},
    "version_data": {"not_versioned": true, "versions": {"Default": {"name": "Default"}}}}'
  curl -s -H "X-Tyk-Authorization: \$SECRET" http://127.0.0.1:$((api_port + 1))/tyk/reload/group
  # a key created on node 2, with a rate limit the whole fleet shares
  KEY=\$(curl -s -H "X-Tyk-Authorization: \$SECRET" -X POST http://127.0.0.1:$((api_port + 1))/tyk/keys/create \\
    -d '{"rate": 5, "per": 10, "access_rights": {"demo": {"api_id": "demo"}}}' | sed -n 's/.*"key": "\\([^"]*\\)".*/\\1/p')
  # six requests spread over the three nodes: five pass, the sixth gets 429
  for p in $port $((port + 1)) $((port + 2)) $port $((port + 1)) $((port + 2)); do
    curl -s -o /dev/null -w "node :\$p -> %{http_code}\\n" -H "Authorization: \$KEY" http://127.0.0.1:\$p/demo/get; done
  curl -s http://127.0.0.1:$((api_port + 2))/hello   # details.redis: the datastore and its round trip

Ctrl-C stops the fleet.
EOF
wait
