#!/usr/bin/env bash
# Runs the whole test suite, as README.md says and .ci/run does: the gateway's module, then the
# gRPC and browser tests, modules of their own (tests/grpc, tests/browser) so that the gateway's
# module graph, which every plugin must match, never names gRPC or chromedp. Extra arguments go
# to the `go test -race` runs, e.g.
#   scripts/test.sh -run TestQuickstart -v
# The timeout is above go test's default of 10 minutes: internal/gateway alone takes about 5 on
# a loaded 2-core machine under -race.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each run goes through scripts/testlog: package results, failed tests' output, and, for a
# package whose test binary died (a timeout, the race detector giving up), the tests under way
# then and their last lines. -v among the arguments writes every line.
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/testlog" ./scripts/testlog
verbose=()
for a in "$@"; do
  if [ "$a" = "-v" ]; then verbose=(-v); fi
done
testlog() { "$bin/testlog" "${verbose[@]}"; }
go test -json -race -trimpath -timeout 30m "$@" ./... 2>&1 | testlog
# Allocation counts are not exact under -race, where the allocation guards skip or only log: run them
# once more without -race, so that they judge (issue 15).
go test -trimpath -count=1 -run 'TestAllocs' ./internal/gateway
go test -trimpath -count=1 -run 'TestNormaliserAllocations' ./internal/analytics
(cd tests/grpc && go test -json -race -trimpath -timeout 15m "$@" ./... 2>&1) | testlog
# The status page in headless chromium (skipped with an install hint when it is missing, unless
# GATEHOUSE_REQUIRE_CHROMIUM is set). It builds and runs the gatehouse binary itself.
(cd tests/browser && go test -json -race -trimpath -timeout 15m "$@" ./... 2>&1) | testlog
# tyk-pump analytics, decoded with tyk-pump's own msgpack decoder: also a module of their own.
(cd tests/pump && go test -json -race -trimpath -timeout 15m "$@" ./... 2>&1) | testlog
