#!/usr/bin/env bash
# Acquisition (数据获取) benchmark, issue 5. Sets up (crates/cli/examples/access_bench.rs, through
# the services) a ~500 MB table published twice — unconditional and conditional — and the
# village table (620,573 rows) as conditional data, with a consumer's terms grant, approved
# grants, an AppKey and an API token; then, against `pubdata serve` on the same data directory:
#   1. plain download of the ~500 MB published copy with curl, against nginx (sendfile) serving
#      the very same file, interleaved run by run (target: pubdata ≥ 0.8 × nginx);
#   2. watermarked downloads under the conditional grant — the rows streamed in the grant's
#      order — of the village table, and of the ~500 MB table for at most WM_MAX_TIME seconds
#      (target ≥ 150 MB/s);
#   3. the data API with the AppKey on the village table, `code.eq` and `streetCode.eq&limit=50`
#      over codes sampled from the table, wrk -t2 -c8 (target p99 ≤ 10 ms), with an API token's
#      same requests as the baseline.
# MB are 10^6 bytes. Numbers are recorded in docs/performance.md.
#
#   bash bench/access.sh                  # needs curl, nginx, wrk, jq, bc (installed if missing)
#   RUNS=9 SIZE_MB=200 bash bench/access.sh
#   BENCH_DIR=/somewhere bash bench/access.sh     # where the set-up data is kept between runs
#   BUILD=0 bash bench/access.sh                  # use the release binaries already built
#   ONLY=wm bash bench/access.sh                  # only one part: plain, wm (watermarked) or api
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

SIZE_MB="${SIZE_MB:-500}"
RUNS="${RUNS:-5}"
DURATION="${DURATION:-15s}"
WM_MAX_TIME="${WM_MAX_TIME:-60}"
REGIONS="${PUBDATA_DATA:-../shared/data}"
DIR="${BENCH_DIR:-${TMPDIR:-/tmp}/pubdata-bench-access-$SIZE_MB}"
ONLY="${ONLY:-all}"
case "$ONLY" in all | plain | wm | api) ;; *) echo "ONLY is plain, wm or api" >&2; exit 1 ;; esac
# Whether part $1 of the benchmark runs.
part() { [ "$ONLY" = all ] || [ "$ONLY" = "$1" ]; }

need=()
for tool in curl nginx wrk jq bc; do
  command -v "$tool" >/dev/null || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -f "$REGIONS/villages.csv.gz" ] || {
  echo "missing $REGIONS/villages.csv.gz (set PUBDATA_DATA to the folder holding it)" >&2
  exit 1
}

if [ "${BUILD:-1}" = 1 ]; then
  cargo build --release -q -p pubdata --bins --examples
fi
BIN="$PWD/target/release/pubdata"
SETUP="$PWD/target/release/examples/access_bench"

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


# Waits until a URL answers (or the process $2 dies).
wait_for() {
  for _ in $(seq 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB memory, $(uname -sr)"
echo "cpu: $(awk -F': ' '/^model name/ {n = $2} /^cpu family/ {f = $2} /^model\t/ {m = $2} /^cpu MHz/ {h = $2}
  END {printf "%s (family %s, model %s), %.0f MHz", n, f, m, h}' /proc/cpuinfo)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(nginx -v 2>&1 | cut -d' ' -f3), $(curl --version | head -1 | cut -d' ' -f1-2), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"

"$SETUP" --data-dir "$DIR" --size-mb "$SIZE_MB" --villages "$REGIONS/villages.csv.gz"
M="$DIR/bench-access.json"
j() { jq -r "$1" "$M"; }
FILE=$(j .plain.file)
BYTES=$(j .plain.bytes)
TOKEN=$(j .token)
KEY=$(j .app_key)
echo "published copy: $FILE ($BYTES bytes, $(j .plain.rows) rows)"

PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
# The AppKey limit (600 a minute by default) is raised: the benchmark measures the API itself.
PUBDATA_DATA_DIR="$DIR" PUBDATA_ADDR="127.0.0.1:$PORT" PUBDATA_APP_KEY_RATE=1000000000 \
  "$BIN" serve >"$TMP/server.log" 2>&1 &
SERVER=$!
wait_for "$URL/healthz" "$SERVER" || { cat "$TMP/server.log" >&2; exit 1; }

NPORT=$(free_port)
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    server {
        listen 127.0.0.1:$NPORT;
        default_type text/csv;
        location = /plain.csv { alias $FILE; }
        # The same file copied through user space, as pubdata sends it.
        location = /copied.csv { alias $FILE; sendfile off; output_buffers 2 1m; }
    }
}
EOF
nginx -p "$TMP" -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" &
NGINX=$!
wait_for "http://127.0.0.1:$NPORT/plain.csv" "$NGINX" || { cat "$TMP/nginx-error.log" >&2; exit 1; }

auth=(-H "Authorization: Bearer $TOKEN")
# One download to /dev/null: "bytes/s bytes status".
fetch() {
  curl -s -o /dev/null -w '%{speed_download} %{size_download} %{http_code}\n' "$@" || true
}
# Fails unless a download ($1: its "speed size status" line) is whole.
whole() {
  local size status
  read -r _ size status <<<"$1"
  [ "$status" = 200 ] && [ "$size" = "$2" ] || { echo "incomplete download: $1 (want $2 bytes)" >&2; exit 1; }
}
mbs() { awk '{printf "%.0f", $1 / 1e6}'; }
# Median, minimum and maximum of the numbers on stdin: "median min max".
stats() {
  sort -g | awk '{v[NR] = $1} END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%s %s %s", m, v[1], v[NR]
  }'
}

if part plain; then
echo
echo "== downloads =="
# The published copy is checked once (and read into the page cache for all).
sum=$(curl -fsS "${auth[@]}" "$URL$(j .plain.path)" | sha256sum | cut -d' ' -f1)
[ "$sum" = "$(j .plain.sha256)" ] || { echo "the download's sha256 is not the published copy's" >&2; exit 1; }
fetch "http://127.0.0.1:$NPORT/plain.csv" >/dev/null
targets=(nginx copied plain)
declare -A where=(
  [nginx]="http://127.0.0.1:$NPORT/plain.csv"
  [copied]="http://127.0.0.1:$NPORT/copied.csv"
  [plain]="$URL$(j .plain.path)"
)
declare -A got=()
speed() { echo "${got[$1]}" | cut -d' ' -f1; }
for t in "${targets[@]}" ratio ratio-copied; do : >"$TMP/$t.txt"; done
for r in $(seq "$RUNS"); do
  # Each run in another order, so that no one always follows the same neighbour.
  for k in 0 1 2; do
    t=${targets[$(((k + r) % 3))]}
    got[$t]=$(fetch "${auth[@]}" "${where[$t]}")
    whole "${got[$t]}" "$BYTES"
    echo "${got[$t]}" | cut -d' ' -f1 >>"$TMP/$t.txt"
  done
  echo "$(speed plain) / $(speed nginx)" | bc -l >>"$TMP/ratio.txt"
  echo "$(speed plain) / $(speed copied)" | bc -l >>"$TMP/ratio-copied.txt"
  echo "run $r: nginx $(speed nginx | mbs) MB/s, nginx without sendfile $(speed copied | mbs) MB/s," \
    "pubdata $(speed plain | mbs) MB/s"
done

# The same with wrk, one connection for 10 s each: repeated requests on a kept-alive connection.
wrk_rate() { # "Transfer/sec: 1.23GB" in MB/s
  awk '/^Transfer\/sec/ {
    v = $2; n = v + 0
    if (v ~ /GB$/) n *= 1073741824; else if (v ~ /MB$/) n *= 1048576; else if (v ~ /KB$/) n *= 1024
    printf "%.0f", n / 1e6
  }' "$1"
}
wrk -t1 -c1 -d10s --timeout 30s "http://127.0.0.1:$NPORT/plain.csv" >"$TMP/wrk-nginx.txt"
wrk -t1 -c1 -d10s --timeout 30s "${auth[@]}" "$URL$(j .plain.path)" >"$TMP/wrk-plain.txt"
echo "wrk -c1: nginx $(wrk_rate "$TMP/wrk-nginx.txt") MB/s, pubdata $(wrk_rate "$TMP/wrk-plain.txt") MB/s"
fi

if part wm; then
: >"$TMP/marked.txt"
for r in $(seq "$RUNS"); do
  w=$(fetch "${auth[@]}" "$URL$(j .villages.path)")
  whole "$w" "$(j .villages.bytes)"
  echo "watermarked village table, run $r: $(echo "$w" | mbs) MB/s"
  echo "$w" | cut -d' ' -f1 >>"$TMP/marked.txt"
done
big=$(fetch --max-time "$WM_MAX_TIME" "${auth[@]}" "$URL$(j .watermarked.path)")
read -r big_speed big_size big_status <<<"$big"
big_note="whole file"
[ "$big_size" = "$(j .watermarked.bytes)" ] || big_note="first $((big_size / 1000000)) of $(($(j .watermarked.bytes) / 1000000)) MB in ${WM_MAX_TIME} s"
echo "watermarked ~$SIZE_MB MB table: $(echo "$big_speed" | mbs) MB/s ($big_note, status $big_status)"
fi
rss_downloads=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$SERVER/status")

if part api; then
echo
echo "== data API =="
VID=$(j .villages.resource)
gzip -dc "$REGIONS/villages.csv.gz" | awk -F, 'NR > 1 && NR % 3000 == 0 {print $1, $3}' >"$TMP/sample.txt"
awk -v r="$VID" '{print "/api/v1/resources/" r "/rows?code.eq=" $1}' "$TMP/sample.txt" >"$TMP/by-code.txt"
awk -v r="$VID" '{print "/api/v1/resources/" r "/rows?streetCode.eq=" $2 "&limit=50"}' "$TMP/sample.txt" >"$TMP/by-street.txt"
first=$(head -1 "$TMP/by-code.txt")
found=$(curl -fsS -H "X-App-Key: $KEY" "$URL$first" | jq '.records | length')
[ "$found" = 1 ] || { echo "$first with the AppKey found $found rows, not 1" >&2; exit 1; }
echo "$(wc -l <"$TMP/sample.txt") codes sampled; e.g. $first → 1 row"

# wrk's latency ("812.00us", "3.21ms", "1.02s") in milliseconds.
ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n
  }'
}
# wrk for DURATION after a 5 s warm-up, $1 connections (2 threads at most); report in $TMP/$2.txt.
api() {
  local c=$1 name=$2
  local t=$((c < 2 ? c : 2))
  shift 2
  wrk -t"$t" -c"$c" -d5s --timeout 10s -s bench/access.lua "$@" >/dev/null
  wrk -t"$t" -c"$c" -d"$DURATION" --timeout 10s --latency -s bench/access.lua "$@" >"$TMP/$name.txt"
  echo "$name: p50 $(p50 "$name") ms, p99 $(p99 "$name") ms, $(rps "$name") req/s, $(bad "$name") errors"
}
p50() { ms "$(awk '$1 == "50%" {print $2}' "$TMP/$1.txt")"; }
p99() { ms "$(awk '$1 == "99%" {print $2}' "$TMP/$1.txt")"; }
rps() { awk '/^Requests\/sec/ {printf "%.0f", $2}' "$TMP/$1.txt"; }
bad() {
  awk '/Non-2xx/ {n += $NF} /Socket errors/ {for (i = 3; i <= NF; i++) n += $i} END {print n + 0}' "$TMP/$1.txt"
}
appkey=(-H "X-App-Key: $KEY")
api 8 key-code "${appkey[@]}" "$URL" -- "$TMP/by-code.txt"
api 8 key-street "${appkey[@]}" "$URL" -- "$TMP/by-street.txt"
api 1 key-code-1 "${appkey[@]}" "$URL" -- "$TMP/by-code.txt"
api 1 key-street-1 "${appkey[@]}" "$URL" -- "$TMP/by-street.txt"
api 8 token-code "${auth[@]}" "$URL" -- "$TMP/by-code.txt"
fi
rss_peak=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$SERVER/status")

mb() { echo "$1" | mbs; }
echo
echo "| measure | median | range ($RUNS runs) | target |"
echo "|---|---|---|---|"
if part plain; then
read -r nm nlo nhi <<<"$(stats <"$TMP/nginx.txt")"
read -r cm clo chi <<<"$(stats <"$TMP/copied.txt")"
read -r qcm qclo qchi <<<"$(stats <"$TMP/ratio-copied.txt")"
read -r pm plo phi <<<"$(stats <"$TMP/plain.txt")"
read -r qm qlo qhi <<<"$(stats <"$TMP/ratio.txt")"
echo "| nginx (sendfile), $((BYTES / 1000000)) MB file, curl | $(mb "$nm") MB/s | $(mb "$nlo")–$(mb "$nhi") | |"
echo "| nginx (sendfile off, 1 MiB buffers), same file | $(mb "$cm") MB/s | $(mb "$clo")–$(mb "$chi") | |"
echo "| pubdata plain download, same file | $(mb "$pm") MB/s | $(mb "$plo")–$(mb "$phi") | |"
printf '| pubdata / nginx (sendfile), per run | **%.2f** | %.2f–%.2f | ≥ 0.8 |\n' "$qm" "$qlo" "$qhi"
printf '| pubdata / nginx (sendfile off), per run | %.2f | %.2f–%.2f | |\n' "$qcm" "$qclo" "$qchi"
echo "| wrk -c1 10 s: nginx / pubdata | $(wrk_rate "$TMP/wrk-nginx.txt") / $(wrk_rate "$TMP/wrk-plain.txt") MB/s | | |"
result "download, $((BYTES / 1000000)) MB published copy: pubdata / nginx (sendfile), median of $RUNS" \
  "$(mb "$pm") MB/s" "$(mb "$nm") MB/s" "$(printf '%.2f' "$qm")" "≥ 0.8" "$(met "$qm" '>=' 0.8)"
fi
if part wm; then
read -r wm wlo whi <<<"$(stats <"$TMP/marked.txt")"
echo "| watermarked download, village table ($(($(j .villages.bytes) / 1000000)) MB) | **$(mb "$wm") MB/s** | $(mb "$wlo")–$(mb "$whi") | ≥ 150 MB/s |"
echo "| watermarked download, ~$SIZE_MB MB table | **$(mb "$big_speed") MB/s** | $big_note | ≥ 150 MB/s |"
result "watermarked download, village table, median of $RUNS" "$(mb "$wm") MB/s" "" "" "≥ 150 MB/s" \
  "$(met "$(mb "$wm")" '>=' 150)"
result "watermarked download, ~$SIZE_MB MB table" "$(mb "$big_speed") MB/s" "" "" "≥ 150 MB/s" \
  "$(met "$(mb "$big_speed")" '>=' 150)"
fi
row() { # measure, report, target
  echo "| $1 | p50 $(p50 "$2") ms, p99 **$(p99 "$2") ms** | $(rps "$2") req/s, $(bad "$2") errors | $3 |"
}
if part api; then
row "data API + AppKey, code.eq, 8 connections" key-code "p99 ≤ 10 ms"
row "data API + AppKey, streetCode.eq&limit=50, 8 connections" key-street "p99 ≤ 10 ms"
row "data API + AppKey, code.eq, 1 connection" key-code-1 ""
row "data API + AppKey, streetCode.eq&limit=50, 1 connection" key-street-1 ""
row "data API + API token, code.eq, 8 connections" token-code ""
fi
echo "| server peak RSS after downloads / at end | $rss_downloads / $rss_peak MiB | | |"
result "server memory, downloads ($ONLY): peak RSS" "$rss_peak MiB"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
