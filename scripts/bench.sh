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
# Each case runs RUNS times (default 3), interleaved, each on a fresh server;
# the table gives the median run's requests/s, p50, p99 and non-2xx/socket
# errors, the highest peak RSS (VmHWM, summed over nginx's master and worker),
# and requests/s as a ratio to nginx over the same transport.
#
#   scripts/bench.sh [SECONDS]        (default 10; builds ./build if needed)
#   CASES="hookd-normal nginx-http" scripts/bench.sh 5     a subset
#   HOOKD_BIN=/path/to/old/hookd scripts/bench.sh          another build
#
# Everything it writes goes under build/bench/: the table in results.txt, the
# servers' configurations and logs in work/ (kept for a look after a failure;
# the spools and event files go after each run). docs/benchmark.md explains it.
#
# The server is pinned to CPU 0 and wrk to CPU 1 (taskset; PIN=0 disables).
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
CASES=${CASES:-"nginx-http webhook hookd-full hookd-normal hookd-jws hookd-store hookd-404 nginx-tls hookd-tls-normal hookd-tls-full"}
PATH=$PATH:/usr/sbin  # nginx
[ -x "$BIN" ] || make build >/dev/null
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

out=build/bench
rm -rf "$out/work"
mkdir -p "$out/work"
work=$(cd "$out/work" && pwd)  # absolute: the configurations name files in it
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
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

hookd_conf() { # port tls(0|1) sync [route(1|0)] [verify]
  local tlsconf="" routes='  - { match: "*", to: [audit] }'
  local verify=${5:-"{ scheme: ctct-hmac-sha256, secret: $secret }"}
  [ "${4:-1}" = 0 ] && routes="  []"
  [ "$2" = 1 ] && tlsconf="  tls: { cert: $work/cert.pem, key: $work/key.pem }"
  cat <<YAML
server:
  listen: ["127.0.0.1:$1"]
$tlsconf
log: { level: warn, format: text }
spool: { path: $work/spool-$1-$RANDOM.db, sync: $3 }
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
hwm_kb() { # the peak RSS of a process and its children, summed
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/VmHWM/ { k = $2 } END { print k + 0 }' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo $total
}
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# One run of one case: prints "rps p50 p99 errors hwm_kb".
run_once() {
  local name=$1 port url scheme=http pid
  case $name in
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
    "${TS0[@]}" nginx -e "$work/nginx.err" -c "$work/n.conf" -p "$work" 2>>"$work/nginx.err" & ;;
  webhook)
    url=http://127.0.0.1:$port/hooks/ctct
    "${TS0[@]}" webhook -hooks "$work/hooks.json" -ip 127.0.0.1 -port $port >"$work/webhook.log" 2>&1 & ;;
  hookd-*)
    url=$scheme://127.0.0.1:$port/webhooks/ctct
    [ "$name" = hookd-404 ] && url=$scheme://127.0.0.1:$port/not-a-source
    "$BIN" check -c "$work/h.yaml" >/dev/null
    "${TS0[@]}" "$BIN" run -c "$work/h.yaml" 2>>"$work/hookd.log" & ;;
  esac
  pid=$!
  wait_port $port || { echo "bench: $name did not start" >&2; tail "$work"/*.log "$work"/*.err >&2; exit 1; }
  local out
  local lua=$work/post.lua
  [ "$name" = hookd-jws ] && lua=$work/post-jws.lua
  out=$("${TS1[@]}" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency -s "$lua" "$url" | grep RESULT) ||
    { echo "bench: wrk failed on $name" >&2; exit 1; }
  local hwm; hwm=$(hwm_kb $pid)
  # hookd's deliveries still pending stay in the spool: a kill loses nothing
  # and keeps the stop out of the measurement.
  kill -KILL $pid $(pgrep -P $pid || true) 2>/dev/null || true
  wait $pid 2>/dev/null || true
  rm -f "$work/spool-$port-"* "$work/events-$port.jsonl"  # a run's data can be GBs
  read -r _ rps p50 p99 errs <<<"$out"
  echo "$rps $p50 $p99 $errs $hwm"
}

declare -A RES
for r in $(seq "$RUNS"); do
  for c in $CASES; do
    RES[$c]+="$(run_once "$c")"$'\n'
    echo "run $r $c: $(tail -n1 <<<"${RES[$c]%$'\n'}")" >&2
  done
done

median() { # the line of the median requests/s, and the highest peak RSS
  local sorted; sorted=$(grep . <<<"$1" | sort -n -k1,1)
  local n; n=$(wc -l <<<"$sorted")
  local line; line=$(sed -n "$(( (n + 1) / 2 ))p" <<<"$sorted")
  local hwm; hwm=$(awk '$5 > m { m = $5 } END { print m }' <<<"$sorted")
  echo "${line% *} $hwm"
}
declare -A MED
for c in $CASES; do MED[$c]=$(median "${RES[$c]}"); done
rps_of() { [ -n "${MED[$1]:-}" ] && cut -d' ' -f1 <<<"${MED[$1]}" || echo ""; }

{
printf "\n%d s per run, %d connections, median of %d runs (%s)\n" "$DUR" "$CONNS" "$RUNS" "$("$BIN" --version 2>/dev/null | head -1)"
printf "%-17s %9s %8s %8s %7s %9s %9s\n" case "req/s" "p50 ms" "p99 ms" errors "peak MB" "x nginx"
for c in $CASES; do
  read -r rps p50 p99 errs hwm <<<"${MED[$c]}"
  base=$(rps_of nginx-http); case $c in *tls*) base=$(rps_of nginx-tls) ;; esac
  ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  printf "%-17s %9s %8s %8s %7s %9s %9s\n" "$c" "$rps" "$p50" "$p99" "$errs" \
    "$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')" "$ratio"
done
if [ -n "$(rps_of hookd-normal)" ] && [ -n "$(rps_of webhook)" ]; then
  awk -v a="$(rps_of hookd-normal)" -v b="$(rps_of webhook)" \
    'BEGIN { printf "hookd-normal / webhook: %.1fx\n", a / b }'
fi
} | tee "$out/results.txt"
