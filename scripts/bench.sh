#!/usr/bin/env bash
# Benchmark of the receive path on loopback: wrk (keep-alive, 50 connections)
# posting a signed Constant Contact notification to hookd with the file
# plugin, over plain HTTP and over TLS, with the spool at `sync: full` and
# `sync: normal`. Prints requests/s, p50, p99, non-2xx answers and hookd's RSS
# at idle and at the end of the load.
#
#   scripts/bench.sh [SECONDS]       (default 10; needs a built ./build)
#   HOOKD_BIN=/path/to/old/hookd scripts/bench.sh   compares another build
#       (a build from before the spool ignores spool: and keeps events in memory)
#
# The server is pinned to CPU 0 and wrk to CPU 1 when taskset exists.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
CONNS=${CONNS:-50}
BIN=${HOOKD_BIN:-build/hookd}
command -v wrk >/dev/null || { echo "bench: wrk is missing (scripts/deps.sh installs it)" >&2; exit 1; }
[ -x "$BIN" ] || make build >/dev/null

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
secret=bench-secret
body='{"url":"https://api.constantcontact.com/v2/partner/accounts/a07e1ih151d0/plan","event_type":"tier.increase"}'
printf '%s' "$body" > "$work/body.json"
sig=$("$BIN" sign --scheme ctct-hmac-sha256 --secret "$secret" --file "$work/body.json" | sed 's/^[^:]*: //')
auth=$(printf 'partner:pw' | base64)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 -subj /CN=localhost 2>/dev/null

cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic $auth"
wrk.headers["x-ctct-hmac-sha256"] = "$sig"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.3f %.3f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA

TS0=(); TS1=()
if [ "${PIN:-1}" = 1 ] && command -v taskset >/dev/null; then TS0=(taskset -c 0); TS1=(taskset -c 1); fi
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

run_case() { # name tls(0|1) port sync(full|normal)
  local name=$1 tls=$2 port=$3 sync=$4 scheme=http tlsconf=""
  if [ "$tls" = 1 ]; then scheme=https; tlsconf="  tls: { cert: $work/cert.pem, key: $work/key.pem }"; fi
  cat > "$work/$name.yaml" <<YAML
server:
  listen: ["127.0.0.1:$port"]
$tlsconf
log: { level: warn, format: text }
spool: { path: $work/$name.db, sync: $sync }
dispatch: { workers: 1, queue: 1000000 }
sources:
  - name: constantcontact
    path: /webhooks/ctct
    auth: { basic: { username: partner, password: pw } }
    verify: { scheme: ctct-hmac-sha256, secret: $secret }
plugins:
  - name: audit
    use: file
    config: { path: $work/$name.jsonl }
    concurrency: 1
routes:
  - { match: "*", to: [audit] }
YAML
  "$BIN" check -c "$work/$name.yaml" >/dev/null || exit 1
  "${TS0[@]}" "$BIN" run -c "$work/$name.yaml" 2>"$work/$name.log" &
  local pid=$!
  sleep 0.5; kill -0 $pid 2>/dev/null || { cat "$work/$name.log" >&2; exit 1; }
  local idle; idle=$(rss_kb $pid)
  local out; out=$("${TS1[@]}" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency -s "$work/post.lua" "$scheme://127.0.0.1:$port/webhooks/ctct" | grep RESULT)
  local load; load=$(rss_kb $pid)
  # The benchmark measures receiving; deliveries still pending stay in the
  # spool, so a kill loses nothing and the stop is not timed.
  kill -KILL $pid; wait $pid 2>/dev/null || true
  read -r _ rps p50 p99 errs <<<"$out"
  printf "%-14s %10s %9s %9s %8s %10s %10s\n" "$name" "$rps" "$p50" "$p99" "$errs" "$(mb "$idle")" "$(mb "$load")"
}

printf "%-14s %10s %9s %9s %8s %10s %10s\n" case "req/s" "p50 ms" "p99 ms" errors "RSS idle MB" "RSS load MB"
run_case http-full 0 18081 full
run_case http-normal 0 18082 normal
run_case tls-full 1 18443 full
