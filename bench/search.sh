#!/usr/bin/env bash
# Catalogue search and data API benchmark: generates a catalogue of 100,000 published resources
# (crates/cli/examples/catalogue_gen.rs, through the services) with the national village table
# as one more, times `pubdata reindex`, then measures with wrk against `pubdata serve`:
#   - /api/v1/search, ~50 Chinese, pinyin and faceted searches (bench/search.lua), all facets;
#   - nginx serving a static JSON file the size of a search response, same wrk settings;
#   - the data API on the village table (620,573 rows) with an API token, filtering on the
#     key `code` and on `streetCode` (bench/paths.lua), both indexed; then the same requests
#     with an AppKey at KEY_CONNECTIONS (8) connections;
# and the server's memory. Numbers are recorded in docs/performance.md.
#
#   bash bench/search.sh            # needs wrk, nginx, curl and jq (installed if missing)
#   RESOURCES=20000 DURATION=10s bash bench/search.sh
#   BENCH_DIR=/somewhere bash bench/search.sh     # where the catalogue is kept between runs
#   BUILD=0 bash bench/search.sh                  # use the release binaries already built
#   ONLY=data bash bench/search.sh                # the data API alone (ONLY=search: search and nginx);
#                                                 # the reindex is skipped when an index exists
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

RESOURCES="${RESOURCES:-100000}"
DURATION="${DURATION:-20s}"
CONNECTIONS="${CONNECTIONS:-32}"
KEY_CONNECTIONS="${KEY_CONNECTIONS:-8}"
THREADS="${THREADS:-2}"
VIA="${VIA:-service}"
ONLY="${ONLY:-all}"
case "$ONLY" in all | search | data) ;; *) echo "ONLY must be all, search or data" >&2; exit 2 ;; esac
want() { [ "$ONLY" = all ] || [ "$ONLY" = "$1" ]; }
REGIONS="${PUBDATA_DATA:-../shared/data}"
DIR="${BENCH_DIR:-${TMPDIR:-/tmp}/pubdata-bench-catalogue-$RESOURCES}"

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
command -v bc >/dev/null || need+=(bc)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -f "$REGIONS/villages.csv.gz" ] || {
  echo "missing $REGIONS/villages.csv.gz (set PUBDATA_DATA to the folder holding the region files)" >&2
  exit 1
}
REGIONS="$(cd "$REGIONS" && pwd)"

# BUILD=0 uses the release binaries already built (e.g. while the tree does not compile).
if [ "${BUILD:-1}" = 1 ]; then
  cargo build --release -q -p pubdata --examples --bins
fi
BIN="$PWD/target/release/pubdata"
GEN="$PWD/target/release/examples/catalogue_gen"

TMP="$(mktemp -d)"
SERVER=""
NGINX=""
cleanup() {
  for pid in $SERVER $NGINX; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l | xargs printf '%.1f'; }


# wrk's latency ("812.00us", "3.21ms", "1.02s") in milliseconds.
ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n
  }'
}

# Runs wrk for DURATION after a 5 s warm-up; prints its report to $TMP/$1.txt and the screen.
# A request that takes longer than 10 s counts as a timeout, not in the latencies.
bench() {
  local name=$1
  shift
  wrk -t"$THREADS" -c"$CONNECTIONS" -d5s --timeout 10s "$@" >/dev/null
  measure "$name" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s --latency "$@"
}

# One connection for 10 s: the latency of a request that does not queue behind others.
alone() {
  local name=$1
  shift
  measure "$name" wrk -t1 -c1 -d10s --timeout 10s --latency "$@"
}

# Runs wrk ("$@") and records the CPU time the server spent per request, which unlike the
# latencies hardly depends on what else the machine is doing.
measure() {
  local name=$1 before after
  shift
  before=$(cpu_ticks)
  "$@" | tee "$TMP/$name.txt"
  after=$(cpu_ticks)
  awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" '/requests in/ {printf "%.2f", t * 1000 / hz / $1}' \
    "$TMP/$name.txt" >"$TMP/$name.cpu"
}
cpu_ticks() { if [ -n "$SERVER" ]; then awk '{print $14 + $15}' "/proc/$SERVER/stat"; else echo 0; fi; }
cpu() { cat "$TMP/$1.cpu"; }
p50() { ms "$(awk '$1 == "50%" {print $2}' "$TMP/$1.txt")"; }
p99() { ms "$(awk '$1 == "99%" {print $2}' "$TMP/$1.txt")"; }
rps() { awk '/^Requests\/sec/ {printf "%.0f", $2}' "$TMP/$1.txt"; }
bad() {
  awk '/Non-2xx/ {n += $NF} /Socket errors/ {for (i = 3; i <= NF; i++) n += $i} END {print n + 0}' "$TMP/$1.txt"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB memory, $(uname -sr)"
echo "cpu: $(awk -F': ' '/^model name/ {n = $2} /^cpu family/ {f = $2} /^model\t/ {m = $2} /^cpu MHz/ {h = $2}
  END {printf "%s (family %s, model %s), %.0f MHz", n, f, m, h}' /proc/cpuinfo)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $(nginx -v 2>&1 | cut -d' ' -f3)"

gen_s="reused"
if [ ! -f "$DIR/bench-catalogue.txt" ]; then
  rm -rf "$DIR"
  start=$(now)
  "$GEN" --data-dir "$DIR" --resources "$RESOURCES" --via "$VIA" --villages --regions-dir "$REGIONS" |
    grep -v '^  [0-9]* / '
  gen_s="$(since "$start") s"
fi
export PUBDATA_DATA_DIR="$DIR" PUBDATA_REGIONS_DIR="$REGIONS"
echo "catalogue: $DIR ($(du -sm "$DIR" | cut -f1) MB)"

reindex_s="skipped" reindex_cpu="-"
if want search || [ ! -d "$DIR/search" ]; then
  /usr/bin/time -f '%e %U %S' -o "$TMP/reindex.time" "$BIN" reindex
  read -r reindex_s reindex_user reindex_sys <"$TMP/reindex.time"
  reindex_s="$reindex_s s"
  reindex_cpu=$(echo "$reindex_user + $reindex_sys" | bc -l | xargs printf '%.1f')
fi
echo "search index: $(du -sm "$DIR/search" | cut -f1) MB"

PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
# No AppKey rate limit: the default (600 calls a minute) would answer most of the runs with 429.
PUBDATA_APP_KEY_RATE=1000000000 "$BIN" serve --addr "127.0.0.1:$PORT" >"$TMP/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 600); do
  curl -fsS "$URL/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$TMP/server.log" >&2; exit 1; }
  sleep 0.1
done
# The index is ready when every published resource (the generated ones and the villages) is found.
for _ in $(seq 600); do
  total=$(curl -fsS "$URL/api/v1/search?limit=1&facets=domain" | grep -o '"total":[0-9]*' | head -1 | cut -d: -f2 || true)
  [ "${total:-0}" -gt "$RESOURCES" ] && break
  sleep 1
done
[ "${total:-0}" -gt "$RESOURCES" ] || { echo "the index holds ${total:-0} resources, not $((RESOURCES + 1))" >&2; exit 1; }
rss_idle=$(awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$SERVER/status")
echo "server on $URL: $total resources searchable, RSS ${rss_idle} MiB"

if want search; then
echo
echo "== search API =="
bench search -s bench/search.lua "$URL"
alone search-1 -s bench/search.lua "$URL"

# A typical search response (one page of 20 with all facets) as nginx's static file.
mkdir -p "$TMP/www" "$TMP/nginx"
curl -fsS "$URL/api/v1/search?q=%E5%8C%BB%E7%96%97%E6%9C%BA%E6%9E%84" -o "$TMP/www/search.json"
body_bytes=$(stat -c %s "$TMP/www/search.json")
chmod 755 "$TMP" "$TMP/www"
chmod 644 "$TMP/www/search.json"
NPORT=$(free_port)
cat >"$TMP/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types { application/json json; }
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    server {
        listen 127.0.0.1:$NPORT;
        root $TMP/www;
    }
}
EOF
nginx -p "$TMP" -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" &
NGINX=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$NPORT/search.json" -o /dev/null 2>/dev/null && break
  sleep 0.1
done
echo
echo "== nginx, static search.json ($body_bytes bytes) =="
bench nginx "http://127.0.0.1:$NPORT/search.json"
kill "$NGINX" && wait "$NGINX" 2>/dev/null || true
NGINX=""
fi

if want data; then
echo
echo "== data API, village table =="
RID=$(cat "$DIR/bench-villages-id.txt")
TOKEN=$(cat "$DIR/bench-token.txt")
gzip -dc "$REGIONS/villages.csv.gz" | awk -F, 'NR > 1 && NR % 3000 == 0 {print $1, $3}' >"$TMP/sample.txt"
awk -v r="$RID" '{print "/api/v1/resources/" r "/rows?code.eq=" $1}' "$TMP/sample.txt" >"$TMP/by-code.txt"
awk -v r="$RID" '{print "/api/v1/resources/" r "/rows?streetCode.eq=" $2 "&limit=50"}' "$TMP/sample.txt" >"$TMP/by-street.txt"
auth=(-H "Authorization: Bearer $TOKEN")
echo "$(wc -l <"$TMP/sample.txt") village codes sampled; e.g. $(head -1 "$TMP/by-code.txt") →"
curl -fsS "${auth[@]}" "$URL$(head -1 "$TMP/by-code.txt")"
echo
bench rows-code "${auth[@]}" -s bench/paths.lua "$URL" -- "$TMP/by-code.txt"
alone rows-code-1 "${auth[@]}" -s bench/paths.lua "$URL" -- "$TMP/by-code.txt"
bench rows-street "${auth[@]}" -s bench/paths.lua "$URL" -- "$TMP/by-street.txt"
alone rows-street-1 "${auth[@]}" -s bench/paths.lua "$URL" -- "$TMP/by-street.txt"

# The same requests with an AppKey for the consumer's grant (a new key each run), at
# KEY_CONNECTIONS as bench/access.sh measures it.
grant=$(curl -fsS "${auth[@]}" "$URL/api/v1/grants" | jq -r --argjson r "$RID" '[.[] | select(.resource_id == $r)][0].id')
key=$(curl -fsS -X POST "${auth[@]}" "$URL/api/v1/grants/$grant/app-key" | jq -r .app_key)
appkey=(-H "X-App-Key: $key")
echo "AppKey for grant $grant"
CONNECTIONS=$KEY_CONNECTIONS bench key-code "${appkey[@]}" -s bench/paths.lua "$URL" -- "$TMP/by-code.txt"
CONNECTIONS=$KEY_CONNECTIONS bench key-street "${appkey[@]}" -s bench/paths.lua "$URL" -- "$TMP/by-street.txt"
fi

rss_after=$(awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$SERVER/status")
rss_peak=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$SERVER/status")

echo
echo "| measure | p50 / p99 or time | throughput | server CPU per request | target |"
echo "|---|---|---|---|---|"
echo "| catalogue generation ($VIA) | $gen_s | | | |"
echo "| pubdata reindex, $total resources | ${reindex_s} | | ${reindex_cpu} s in all | ≤ 60 s |"
row() { # measure, wrk report name, target
  echo "| $1 | $(p50 "$2") / $(p99 "$2") ms | $(rps "$2") req/s ($(bad "$2") errors) | $(cpu "$2") ms | $3 |"
}
[ "$reindex_s" = skipped ] || result "reindex, $total resources" "$reindex_s" "" "" "≤ 60 s" \
  "$(met "${reindex_s% s}" '<=' 60)"
if want search; then
  ratio=$(echo "$(rps search) / $(rps nginx)" | bc -l | xargs printf '%.3f')
  result "search, $CONNECTIONS connections: p99" "$(p99 search) ms" "nginx $(p99 nginx) ms" "" "≤ 20 ms" \
    "$(met "$(p99 search)" '<=' 20)"
  result "search, $CONNECTIONS connections: throughput, pubdata / nginx static file" "$(rps search) req/s" \
    "$(rps nginx) req/s" "$ratio" "≥ 0.3" "$(met "$ratio" '>=' 0.3)"
  row "search, $CONNECTIONS connections" search "p99 ≤ 20 ms"
  row "search, 1 connection" search-1 ""
  echo "| nginx, static $body_bytes B, $CONNECTIONS connections | $(p50 nginx) / $(p99 nginx) ms | $(rps nginx) req/s | | |"
  echo "| search / nginx throughput | | $ratio | | ≥ 0.3 |"
fi
if want data; then
  row "data API code.eq, $CONNECTIONS connections" rows-code "p99 ≤ 10 ms"
  row "data API code.eq, 1 connection" rows-code-1 ""
  row "data API streetCode.eq&limit=50, $CONNECTIONS connections" rows-street "p99 ≤ 10 ms"
  row "data API streetCode.eq&limit=50, 1 connection" rows-street-1 ""
  row "data API AppKey code.eq, $KEY_CONNECTIONS connections" key-code "p99 ≤ 10 ms"
  row "data API AppKey streetCode.eq&limit=50, $KEY_CONNECTIONS connections" key-street "p99 ≤ 10 ms"
  for r in rows-code:"token, code.eq, $CONNECTIONS connections" rows-street:"token, streetCode.eq, $CONNECTIONS connections" \
    key-code:"AppKey, code.eq, $KEY_CONNECTIONS connections" key-street:"AppKey, streetCode.eq, $KEY_CONNECTIONS connections"; do
    result "data API, village table, ${r#*:}: p99" "$(p99 "${r%%:*}") ms" "" "" "≤ 10 ms" \
      "$(met "$(p99 "${r%%:*}")" '<=' 10)"
  done
fi
result "server memory, $total resources searchable: RSS idle / peak" "$rss_idle / $rss_peak MiB"
echo "| server RSS: idle after start / after the runs / peak | $rss_idle / $rss_after / $rss_peak MiB | | | |"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
