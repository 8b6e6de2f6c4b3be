#!/usr/bin/env bash
# The receive-path benchmark (docs/benchmark.md), side by side in one run on loopback,
# every server given the same signed Constant Contact notification by wrk
# (keep-alive, CONNS connections, one thread):
#   nginx-http    nginx, one worker, `return 204` (the near-limit of an HTTP
#                 server on this machine)
#   webhook       adnanh/webhook: a hook checking Basic and the HMAC, running
#                 /bin/true (webhook only knows hex signatures, so it gets the
#                 same HMAC-SHA256 of the same body in X-Hub-Signature-256)
#   hookd-full    hookd, file plugin, spool `sync: full`
#   hookd-normal  the same with `sync: normal`
#   hookd-store   `sync: normal`, no route: the receive path and the spool
#                 alone, without the delivery to the file plugin
#   hookd-404     the same POST to a path no source serves: hookd's HTTP layer
#                 alone (parse, answer, keep-alive), the ceiling of the rest;
#                 every answer is a 404, so its errors column counts them all
#   hookd-jws     hookd-normal with a Constant Contact v3 source: the same body
#                 signed RS256 (RSA-2048) in X-CTCT-WEBHOOK-SIG, the key set
#                 from a file (the cost of the public-key check on the path)
#   nginx-tls, hookd-tls-normal, hookd-tls-full   the same over TLS (P-256 cert)
#   hookd-pg      hookd-normal with `spool.driver: postgres`, on a throwaway
#                 PostgreSQL 15 made here, durable (fsync, synchronous_commit,
#                 full_page_writes on: tests/integration/pgcluster.py, durable=True)
#   hookd-pg-2    two such nodes on that PostgreSQL behind haproxy (round
#                 robin, /readyz checked), wrk against haproxy
#                 (no PostgreSQL or no haproxy: the case is skipped, one line says why)
# Each case runs RUNS times (default 3), interleaved, each on a fresh server;
# the table gives the median run's requests/s, p50, p99 and non-2xx/socket
# errors, the highest peak RSS (VmHWM, summed over nginx's master and worker),
# and requests/s as a ratio to nginx over the same transport. A second table
# gives, for the same median run, PostgreSQL's committed transactions per
# stored event (pg cases) and where the machine's CPU went while wrk ran
# (scripts/bench_cpu.py): the server (all hookd nodes), postgres (the
# postmaster and every backend), haproxy, wrk, other programs, idle, and
# the cores' and the disk's speed before the run (machine_state below).
#
#   scripts/bench.sh [SECONDS]        (default 10; builds ./build if needed)
#   CASES="hookd-normal nginx-http" scripts/bench.sh 5     a subset
#   HOOKD_BIN=/path/to/old/hookd scripts/bench.sh          another build
#   (PG_BIN and HAPROXY_BIN name PostgreSQL's and haproxy's, as for the tests)
#
# Everything it writes goes under build/bench/: the table in results.txt, the
# servers' configurations and logs in work/ (kept for a look after a failure;
# the spools and event files go after each run). docs/benchmark.md explains it.
#
# The server is pinned to CPU 0 and wrk to CPU 1 (taskset; PIN=0 disables);
# both hookd nodes of hookd-pg-2 share CPU 0. PostgreSQL and haproxy are not
# pinned: they stand for other machines, and take what they need from both.
# Every process it starts and PostgreSQL's folder go on exit, also on ^C.
# wrk, nginx and webhook come from Debian: missing ones are installed here,
# not by scripts/deps.sh, and the nginx and webhook services the packages
# enable are stopped and disabled again (the bench starts its own).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=""
for p in wrk nginx webhook xxd; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
  if [ -d /run/systemd/system ]; then  # systemd runs: the packages started their services
    for svc in $missing; do
      case $svc in nginx|webhook) $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true ;; esac
    done
  fi
fi
DUR=${1:-10}
CONNS=${CONNS:-50}
RUNS=${RUNS:-3}
BIN=${HOOKD_BIN:-build/hookd}
CASES=${CASES:-"nginx-http webhook hookd-full hookd-normal hookd-jws hookd-store hookd-404 nginx-tls hookd-tls-normal hookd-tls-full hookd-pg hookd-pg-2"}
PATH=$PATH:/usr/sbin  # nginx, haproxy
[ -x "$BIN" ] || make build >/dev/null
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

out=build/bench
rm -rf "$out/work" "$out/pg"
mkdir -p "$out/work" "$out/pg"
work=$(cd "$out/work" && pwd)  # absolute: the configurations name files in it
pgbase=$(cd "$out/pg" && pwd)  # PostgreSQL's folder: on this disk, not a tmpfs
# On exit, also on ^C or a kill: every process this script started goes (its
# descendants, and the servers listed in $work/pids should one have lost its
# parent), then bench_pg.py stops PostgreSQL and removes its folder.
: > "$work/pids"
PG_SERVE=""
spawn() { "$@" & LAST=$!; echo "$LAST" >> "$work/pids"; }
descendants() { local c; for c in $(pgrep -P "$1" || true); do [ "$c" = "$PG_SERVE" ] || { echo "$c"; descendants "$c"; }; done; }
cleanup() {
  trap - EXIT INT TERM
  local p
  # shellcheck disable=SC2046
  kill -KILL $(descendants $$) $(cat "$work/pids" 2>/dev/null) 2>/dev/null || true
  if [ -n "$PG_SERVE" ]; then  # bench_pg.py stops PostgreSQL and removes its folder
    kill -TERM "$PG_SERVE" 2>/dev/null || true
    wait "$PG_SERVE" 2>/dev/null || true
  fi
  rm -rf "$pgbase"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The pg cases need PostgreSQL (and hookd-pg-2 haproxy): skipped, one line
# each, when they are missing.
skipped="" keep=""
for c in $CASES; do
  why=""
  case $c in
  hookd-pg|hookd-pg-2)
    why=$(python3 scripts/bench_pg.py why-not pg 2>&1) || why="python3 scripts/bench_pg.py failed: $why"
    if [ -z "$why" ] && [ "$c" = hookd-pg-2 ]; then why=$(python3 scripts/bench_pg.py why-not haproxy 2>&1) || true; fi ;;
  esac
  if [ -n "$why" ]; then
    echo "bench: skipping $c: $why" >&2
    skipped+="skipped $c: $why"$'\n'
  else
    keep+=" $c"
  fi
done
CASES=${keep# }
[ -n "$CASES" ] || { echo "bench: no case left to run" >&2; exit 0; }  # a skip is no failure

# One PostgreSQL for the whole bench (a fresh database per run), started only
# when a pg case runs.
PG_SETTINGS=""
case " $CASES " in
*" hookd-pg"*)
  # PG_STATS=1: pg_stat_statements loaded; each pg run's statements, by
  # server time, go to build/bench/work/pgstat-<case>-<run>.txt.
  if [ "${PG_STATS:-0}" = 1 ]; then
    export HOOKD_PG_EXTRA_OPTS="${HOOKD_PG_EXTRA_OPTS:-} -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
  fi
  python3 scripts/bench_pg.py serve "$pgbase" "$work/postgres.log" >"$work/pg.env" 2>"$work/pg.err" &
  PG_SERVE=$!
  for _ in $(seq 1200); do
    grep -q '^PG_READY=' "$work/pg.env" && break
    kill -0 "$PG_SERVE" 2>/dev/null || break
    sleep 0.1
  done
  grep -q '^PG_READY=' "$work/pg.env" || { echo "bench: PostgreSQL did not start" >&2; cat "$work/pg.err" >&2; exit 1; }
  # shellcheck disable=SC1091
  . "$work/pg.env" ;;
esac
pgq() { # database sql: the rows, unaligned
  PGOPTIONS="-c client_min_messages=warning" "$PG_PSQL" -X -q -At -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d "$1" -c "$2"
}
chmod 755 "$work"  # nginx's worker (user nobody) reads the TLS files at start only, but be safe
secret=bench-secret
body='{"url":"https://api.constantcontact.com/v2/partner/accounts/a07e1ih151d0/plan","event_type":"tier.increase"}'
printf '%s' "$body" > "$work/body.json"
sig=$("$BIN" sign --scheme ctct-hmac-sha256 --secret "$secret" --file "$work/body.json" | sed 's/^[^:]*: //')
hexsig=$(openssl dgst -sha256 -hmac "$secret" -r "$work/body.json" | cut -d' ' -f1)
auth=$(printf 'partner:pw' | base64)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 -subj /CN=localhost 2>/dev/null

# v3: an RSA-2048 key, its key set (n from the modulus, e = 65537), one
# signature made at the start (hookd-jws allows a tolerance of a day).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/jws.pem" 2>/dev/null
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
n=$(openssl rsa -in "$work/jws.pem" -noout -modulus | cut -d= -f2 | xxd -r -p | b64url)
printf '{"keys":[{"kty":"RSA","kid":"bench","use":"sig","alg":"RS256","n":"%s","e":"AQAB"}]}' \
  "$n" > "$work/jwks.json"
jws=$("$BIN" sign --scheme ctct-jws --key "$work/jws.pem" --kid bench --file "$work/body.json" | sed 's/^[^:]*: //')

post_lua() { # extra header lines
  cat <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic $auth"
$1
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.3f %.3f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
}
post_lua "wrk.headers[\"x-ctct-hmac-sha256\"] = \"$sig\"
wrk.headers[\"X-Hub-Signature-256\"] = \"sha256=$hexsig\"" > "$work/post.lua"
post_lua "wrk.headers[\"X-CTCT-WEBHOOK-SIG\"] = \"$jws\"" > "$work/post-jws.lua"

cat > "$work/hooks.json" <<JSON
[{
  "id": "ctct",
  "execute-command": "/bin/true",
  "http-methods": ["POST"],
  "trigger-rule": { "and": [
    { "match": { "type": "value", "value": "Basic $auth",
                 "parameter": { "source": "header", "name": "Authorization" } } },
    { "match": { "type": "payload-hmac-sha256", "secret": "$secret",
                 "parameter": { "source": "header", "name": "X-Hub-Signature-256" } } }
  ] }
}]
JSON

nginx_conf() { # port tls(0|1)
  local listen="listen 127.0.0.1:$1;" tls=""
  if [ "$2" = 1 ]; then
    listen="listen 127.0.0.1:$1 ssl;"
    tls="ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem;"
  fi
  cat <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx-$1.pid;
error_log $work/nginx-$1.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx-body;
  keepalive_requests 100000000;
  server { $listen $tls location / { return 204; } }
}
NGINX
}

hookd_conf() { # port tls(0|1) sync [route(1|0)] [verify] [spool] [admin port]
  local tlsconf="" routes='  - { match: "*", to: [audit] }' admin="" spool=${6:-}
  local verify=${5:-"{ scheme: ctct-hmac-sha256, secret: $secret }"}
  [ "${4:-1}" = 0 ] && routes="  []"
  [ "$2" = 1 ] && tlsconf="  tls: { cert: $work/cert.pem, key: $work/key.pem }"
  [ -n "$spool" ] || spool="{ path: $work/spool-$1-$RANDOM.db, sync: $3 }"
  [ -n "${7:-}" ] && admin="admin: { listen: \"127.0.0.1:$7\" }"
  cat <<YAML
server:
  listen: ["127.0.0.1:$1"]
$tlsconf
$admin
log: { level: warn, format: text }
spool: $spool
dispatch: { workers: 1, queue: 1000000 }
sources:
  - name: constantcontact
    path: /webhooks/ctct
    auth: { basic: { username: partner, password: pw } }
    verify: $verify
plugins:
  - name: audit
    use: file
    config: { path: $work/events-$1.jsonl }
    concurrency: 1
routes:
$routes
YAML
}

TS0=(); TS1=()
if [ "${PIN:-1}" = 1 ] && command -v taskset >/dev/null; then TS0=(taskset -c 0); TS1=(taskset -c 1); fi
hwm_kb() { # the peak RSS of processes and their children, summed
  local total=0 p
  for p in "$@" $(for q in "$@"; do pgrep -P "$q" || true; done); do
    total=$((total + $(awk '/VmHWM/ { k = $2 } END { print k + 0 }' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo $total
}
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
# wrk on the case's URL, under bench_cpu.py (CPU split in $work/cpu): the
# RESULT line. Arguments: url lua server-pids postgres-pids haproxy-pids.
run_wrk() {
  python3 scripts/bench_cpu.py "$work/cpu" "$3" "$4" "$5" -- \
    "${TS1[@]}" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency -s "$2" "$1" | grep RESULT
}
stop_all() { # the run's servers: a kill, so the stop stays out of the measurement
  local p pids; pids=$(cat "$work/pids")
  for p in $pids; do  # each waited for at once: bash reports a killed job it has not waited for
    # shellcheck disable=SC2046
    kill -KILL "$p" $(pgrep -P "$p" || true) 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  : > "$work/pids"
}

# One run of one case: prints "rps p50 p99 errors hwm_kb xact/event", the CPU
# split "server postgres haproxy wrk other idle" (% of all cores) and, for the
# pg cases, "events commits" (stored, committed over the run; else "- -").
run_once() {
  local name=$1 port url scheme=http pid
  case $name in
  hookd-pg|hookd-pg-2) pg_run_once "$@"; return ;;
  *tls*) scheme=https ;;
  esac
  case $name in
  nginx-http) port=18080; nginx_conf $port 0 > "$work/n.conf" ;;
  nginx-tls) port=18443; nginx_conf $port 1 > "$work/n.conf" ;;
  webhook) port=18090 ;;
  hookd-full) port=18081; hookd_conf $port 0 full > "$work/h.yaml" ;;
  hookd-normal) port=18082; hookd_conf $port 0 normal > "$work/h.yaml" ;;
  hookd-store) port=18083; hookd_conf $port 0 normal 0 > "$work/h.yaml" ;;
  hookd-jws) port=18085; hookd_conf $port 0 normal 1 \
    "{ scheme: ctct-jws, jwks_file: $work/jwks.json, tolerance: 1d }" > "$work/h.yaml" ;;
  hookd-404) port=18084; hookd_conf $port 0 normal 0 > "$work/h.yaml" ;;
  hookd-tls-full) port=18444; hookd_conf $port 1 full > "$work/h.yaml" ;;
  hookd-tls-normal) port=18445; hookd_conf $port 1 normal > "$work/h.yaml" ;;
  *) echo "bench: unknown case $name" >&2; exit 2 ;;
  esac
  case $name in
  nginx-*)
    url=$scheme://127.0.0.1:$port/
    spawn "${TS0[@]}" nginx -e "$work/nginx.err" -c "$work/n.conf" -p "$work" 2>>"$work/nginx.err" ;;
  webhook)
    url=http://127.0.0.1:$port/hooks/ctct
    spawn "${TS0[@]}" webhook -hooks "$work/hooks.json" -ip 127.0.0.1 -port $port >"$work/webhook.log" 2>&1 ;;
  hookd-*)
    url=$scheme://127.0.0.1:$port/webhooks/ctct
    [ "$name" = hookd-404 ] && url=$scheme://127.0.0.1:$port/not-a-source
    "$BIN" check -c "$work/h.yaml" >/dev/null
    spawn "${TS0[@]}" "$BIN" run -c "$work/h.yaml" 2>>"$work/hookd.log" ;;
  esac
  pid=$LAST
  wait_port $port || { echo "bench: $name did not start" >&2; tail "$work"/*.log "$work"/*.err >&2; exit 1; }
  local out
  local lua=$work/post.lua
  [ "$name" = hookd-jws ] && lua=$work/post-jws.lua
  out=$(run_wrk "$url" "$lua" "+$pid" "" "") || { echo "bench: wrk failed on $name" >&2; exit 1; }
  local hwm; hwm=$(hwm_kb $pid)
  # hookd's deliveries still pending stay in the spool: a kill loses nothing
  # and keeps the stop out of the measurement.
  stop_all
  rm -f "$work/spool-$port-"* "$work/events-$port.jsonl"  # a run's data can be GBs
  read -r _ rps p50 p99 errs <<<"$out"
  echo "$rps $p50 $p99 $errs $hwm - $(cat "$work/cpu") - -"
}

haproxy_conf() { # port node-port:admin-port...
  local port=$1 i=0 s
  shift
  cat <<CFG
global
    nbthread 1
    maxconn 4096
    stats socket $work/haproxy.sock mode 600 level admin

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s

frontend webhooks
    bind 127.0.0.1:$port
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    default-server inter 1s fall 2 rise 1
CFG
  for s in "$@"; do
    echo "    server node$i 127.0.0.1:${s%:*} check port ${s#*:}"
    i=$((i + 1))
  done
}

# hookd-pg (one node, wrk on it) and hookd-pg-2 (two nodes behind haproxy,
# wrk on haproxy), each run on a fresh database of the one PostgreSQL.
# Transactions per event: pg_stat_database's xact_commit over the run, read
# once the nodes' backends are gone (a backend flushes its counts when it
# exits), divided by the rows hookd_events gained.
pg_run_once() {
  local name=$1 run=$2 n=1 base=18100 port i db url hport="" nodes=() pids=() hpid=""
  [ "$name" = hookd-pg-2 ] && { n=2; base=18120; hport=18087; }
  db=bench_${name//-/_}_$run
  pgq postgres "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
  pgq postgres "CREATE DATABASE \"$db\" OWNER hookd" >/dev/null
  for ((i = 0; i < n; i++)); do
    port=$((base + i))
    hookd_conf $port 0 - 1 "" "{ driver: postgres, conninfo: \"$PG_CONN dbname=$db\", node: bench$i }" \
      $((port + 10)) > "$work/h$i.yaml"
    "$BIN" check -c "$work/h$i.yaml" >/dev/null
    spawn "${TS0[@]}" "$BIN" run -c "$work/h$i.yaml" >>"$work/hookd.log" 2>&1
    pids+=("$LAST"); nodes+=("$port:$((port + 10))")
  done
  local admins; admins=$(IFS=,; echo "${nodes[*]#*:}")
  python3 scripts/bench_pg.py ready --admin "$admins" ||
    { echo "bench: $name: a node did not become ready" >&2; tail "$work/hookd.log" >&2; exit 1; }
  url=http://127.0.0.1:$base/webhooks/ctct
  if [ -n "$hport" ]; then
    haproxy_conf $hport "${nodes[@]}" > "$work/haproxy.cfg"
    "${HAPROXY_BIN:-haproxy}" -c -q -f "$work/haproxy.cfg"
    spawn "${HAPROXY_BIN:-haproxy}" -db -f "$work/haproxy.cfg" >>"$work/haproxy.log" 2>&1
    hpid=$LAST
    { wait_port $hport && python3 scripts/bench_pg.py ready --haproxy "$work/haproxy.sock" $n; } ||
      { echo "bench: $name: haproxy did not see the nodes up" >&2; tail "$work/haproxy.log" >&2; exit 1; }
    url=http://127.0.0.1:$hport/webhooks/ctct
  fi
  local e0 x0 e1 x1 out hwm
  if [ "${PG_STATS:-0}" = 1 ]; then
    pgq postgres "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
    pgq postgres "SELECT pg_stat_statements_reset()" >/dev/null
  fi
  e0=$(pgq "$db" "SELECT count(*) FROM hookd_events")
  x0=$(pgq postgres "SELECT xact_commit FROM pg_stat_database WHERE datname = '$db'")
  out=$(run_wrk "$url" "$work/post.lua" "$(IFS=,; echo "${pids[*]}")" "+$PG_PID" "$hpid") ||
    { echo "bench: wrk failed on $name" >&2; exit 1; }
  hwm=$(hwm_kb "${pids[@]}")
  stop_all
  local left
  for _ in $(seq 100); do
    left=$(pgq postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db'
                           AND backend_type = 'client backend'")
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  x1=$(pgq postgres "SELECT xact_commit FROM pg_stat_database WHERE datname = '$db'")
  e1=$(pgq "$db" "SELECT count(*) FROM hookd_events")
  if [ "${PG_STATS:-0}" = 1 ]; then
    pgq postgres "SELECT calls, round(total_exec_time::numeric, 1) AS exec_ms,
        round(total_plan_time::numeric, 1) AS plan_ms, rows,
        round((total_exec_time / greatest(calls, 1))::numeric, 3) AS ms_per_call,
        regexp_replace(left(query, 160), '\s+', ' ', 'g')
      FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
      WHERE d.datname = '$db' ORDER BY total_exec_time DESC LIMIT 25" \
      > "$work/pgstat-$name-$run.txt" 2>&1 || true
  fi
  pgq postgres "DROP DATABASE \"$db\" WITH (FORCE)" >/dev/null
  for ((i = 0; i < n; i++)); do rm -f "$work/events-$((base + i)).jsonl"; done
  local xpe; xpe=$(awk -v x=$((x1 - x0)) -v e=$((e1 - e0)) 'BEGIN { if (e > 0) printf "%.2f", x / e; else print "-" }')
  read -r _ rps p50 p99 errs <<<"$out"
  echo "$rps $p50 $p99 $errs $hwm $xpe $(cat "$work/cpu") $((e1 - e0)) $((x1 - x0))"
}

# The machine's state just before a run: each core's speed, ms for a fixed
# loop pinned to it (smaller is faster; "-" unpinned), and the disk's, the
# median µs of an 8 kB write and fdatasync in build/bench (what a durable
# commit waits for). This machine's cores and disk change speed on their
# own, and the cases lean on them differently: the server is on CPU 0, wrk
# on CPU 1, PostgreSQL mostly where wrk is and on the disk (docs/benchmark.md).
machine_state() {
  local c out=""
  for c in 0 1; do
    if [ ${#TS0[@]} -gt 0 ]; then
      out+="$(taskset -c $c python3 -c 'import time
t = time.perf_counter()
n = 0
while n < 2000000: n += 1
print(round((time.perf_counter() - t) * 1000))') "
    else
      out+="- "
    fi
  done
  out+=$(python3 - "$work/fsync.probe" <<'PY'
import os, statistics, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
block, times = b"x" * 8192, []
for _ in range(100):
    t = time.perf_counter()
    os.pwrite(fd, block, 0)
    os.fdatasync(fd)
    times.append(time.perf_counter() - t)
os.close(fd)
os.unlink(sys.argv[1])
print(round(statistics.median(times) * 1e6))
PY
)
  echo "$out"
}

declare -A RES
for r in $(seq "$RUNS"); do
  for c in $CASES; do
    speed=$(machine_state)
    # In the background, so that a signal's trap runs at once, not after wrk.
    run_once "$c" "$r" > "$work/run.out" &
    wait $! || { echo "bench: run $r of $c failed" >&2; exit 1; }
    RES[$c]+="$(tail -n1 "$work/run.out") $speed"$'\n'  # its last line: a server may print
    echo "run $r $c: $(tail -n1 <<<"${RES[$c]%$'\n'}")" >&2
  done
done

median() { # the line of the median requests/s, with the highest peak RSS
  local sorted; sorted=$(grep . <<<"$1" | sort -n -k1,1)
  local n; n=$(wc -l <<<"$sorted")
  local hwm; hwm=$(awk '$5 > m { m = $5 } END { print m + 0 }' <<<"$sorted")
  sed -n "$(( (n + 1) / 2 ))p" <<<"$sorted" | awk -v h="$hwm" '{ $5 = h; print }'
}
declare -A MED
for c in $CASES; do MED[$c]=$(median "${RES[$c]}"); done
rps_of() { [ -n "${MED[$1]:-}" ] && cut -d' ' -f1 <<<"${MED[$1]}" || echo ""; }

{
printf "\n%d s per run, %d connections, median of %d runs (%s)\n" "$DUR" "$CONNS" "$RUNS" "$("$BIN" --version 2>/dev/null | head -1)"
printf '%s' "$skipped"
printf "%-17s %9s %8s %8s %7s %9s %9s\n" case "req/s" "p50 ms" "p99 ms" errors "peak MB" "x nginx"
for c in $CASES; do
  read -r rps p50 p99 errs hwm _ <<<"${MED[$c]}"
  base=$(rps_of nginx-http); case $c in *tls*) base=$(rps_of nginx-tls) ;; esac
  ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  printf "%-17s %9s %8s %8s %7s %9s %9s\n" "$c" "$rps" "$p50" "$p99" "$errs" \
    "$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')" "$ratio"
done
if [ -n "$(rps_of hookd-normal)" ] && [ -n "$(rps_of webhook)" ]; then
  awk -v a="$(rps_of hookd-normal)" -v b="$(rps_of webhook)" \
    'BEGIN { printf "hookd-normal / webhook: %.1fx\n", a / b }'
fi
pin="server on CPU 0, wrk on CPU 1"; [ ${#TS0[@]} -gt 0 ] || pin="nothing pinned"
printf "\nCPU while wrk ran, %% of %d cores (median run; %s; postgres and haproxy not pinned)\n" \
  "$(nproc)" "$pin"
printf "%-17s %7s %8s %8s %6s %6s %6s %8s %8s %8s %8s %6s\n" case server postgres haproxy wrk other idle \
  events commits "xact/ev" "core ms" "sync"
for c in $CASES; do
  read -r _ _ _ _ _ xpe cs cp ch cw co ci ev xa k0 k1 fs _ <<<"${MED[$c]}"
  printf "%-17s %7s %8s %8s %6s %6s %6s %8s %8s %8s %8s %6s\n" "$c" "$cs" "$cp" "$ch" "$cw" "$co" "$ci" \
    "$ev" "$xa" "$xpe" "$k0/$k1" "$fs"
done
printf "just before the run: core ms, a fixed loop on CPU 0 / CPU 1; sync, µs for an 8 kB write\n"
printf "and fdatasync on this disk (median of 100; smaller is faster)\n"
[ -z "$PG_SETTINGS" ] || printf "PostgreSQL %s, not pinned; events: rows hookd_events gained in the run,\ncommits: its database's xact_commit over the run, xact/ev: commits per event\n" "$PG_SETTINGS"
} | tee "$out/results.txt"
