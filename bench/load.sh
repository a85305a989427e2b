#!/usr/bin/env bash
# Mixed load (issue 8 item 2): `pubdata demo` seeded through the services, then six wrk clients at
# once for DURATION on loopback, 256 connections in all:
#   search (48) · web pages: home, catalogue search, dataset pages (64) · data API by key with a
#   token (48) · downloads of a 1.6 MB published file under a grant (16) · applications, created
#   then submitted (48) · pre-review decisions forwarding applications submitted in a first
#   phase (32)
# against a SQLite-backed and a PostgreSQL-backed server. It fails on any 5xx or connection
# error, and when an acknowledged write is missing afterwards: every application created (201),
# submitted (200) and forwarded (200) must be in the database in that state or a later one.
# Prints p50/p99 per route; numbers are recorded in docs/performance.md.
#
#   bash bench/load.sh                          # both backends, 60 s each
#   BACKENDS=sqlite DURATION=20s bash bench/load.sh
#   BUILD=0 bash bench/load.sh                  # use the release binary already built
#   PUBDATA_BENCH_PG=postgres://postgres@127.0.0.1:5432 (the server where a database is made)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION="${DURATION:-60s}"
BACKENDS="${BACKENDS:-sqlite postgres}"
PG="${PUBDATA_BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
REGIONS="${PUBDATA_DATA:-../shared/data}"
[ -f "$REGIONS/streets.csv" ] || { echo "missing $REGIONS/streets.csv (set PUBDATA_DATA)" >&2; exit 1; }
REGIONS="$(cd "$REGIONS" && pwd)"
for tool in wrk curl jq sqlite3 psql; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
if [ "${BUILD:-1}" = 1 ]; then
  cargo build --release -q -p pubdata --bins
fi
BIN="$PWD/target/release/pubdata"

TMP="$(mktemp -d)"
SERVER=""
DB=""
cleanup() {
  [ -n "$SERVER" ] && { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
  [ -n "$DB" ] && dropdb -h 127.0.0.1 -U postgres --if-exists "$DB" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT


echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), duration $DURATION per backend"
fail=0

# run_backend NAME: seeds a demo platform on NAME's database, loads it, checks it.
run_backend() {
  local backend=$1 dir="$TMP/$1" url="" port base pw="load-$RANDOM-bench-7"
  mkdir -p "$dir"
  local -a env=(PUBDATA_DATA_DIR="$dir/demo" PUBDATA_REGIONS_DIR="$REGIONS")
  if [ "$backend" = postgres ]; then
    DB="pubdata_load_$$_$RANDOM"
    createdb -h 127.0.0.1 -U postgres "$DB"
    url="$PG/$DB"
    env+=(PUBDATA_DATABASE_URL="$url")
  fi
  sql() {
    if [ -n "$url" ]; then psql -qtA "$url" -c "$1"; else sqlite3 "$dir/demo/pubdata.db" "$1"; fi
  }
  port=$(free_port)
  base="http://127.0.0.1:$port"
  echo
  echo "== $backend =="
  local t0=$SECONDS
  env "${env[@]}" "$BIN" demo --data-dir "$dir/demo" --password "$pw" --addr "127.0.0.1:$port" \
    ${url:+--database-url "$url"} >"$dir/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 600); do
    curl -fs "$base/healthz" >/dev/null 2>&1 && break
    kill -0 "$SERVER" 2>/dev/null || { tail -30 "$dir/server.log" >&2; exit 1; }
    sleep 0.5
  done
  curl -fs "$base/healthz" >/dev/null || { echo "the demo did not start" >&2; tail -30 "$dir/server.log" >&2; exit 1; }
  echo "demo seeded and serving in $((SECONDS - t0)) s"

  token() { env "${env[@]}" "$BIN" user token "$1" --name load-bench 2>/dev/null | tail -1; }
  local reader applicant reviewer
  reader=$(token consumer.person)
  applicant=$(token consumer.org)
  reviewer=$(token admin.reviewer)
  api() { curl -fsS -H "Authorization: Bearer $1" "$base/api/v1$2"; }

  # The street table (unconditional, the reader holds a grant), its file, and the village
  # table (conditional) the applications ask for.
  local streets villages streets_name dist datasets found
  found=$(api "$reader" "/search?q=$(jq -rn --arg q 全国乡镇（街道）区划代码 '$q|@uri')")
  streets=$(echo "$found" | jq -r '.results[0].id')
  streets_name=$(echo "$found" | jq -r '.results[0].name')
  villages=$(api "$reader" "/search?q=$(jq -rn --arg q 成都市村（社区）级区划代码 '$q|@uri')" | jq -r '.results[0].id')
  dist=$(api "$reader" "/resources/$streets/distributions" | jq -r '[.[] | select(.kind == "file")][0].id')
  datasets=$(api "$reader" "/search?limit=20" | jq -r '[.results[].name] | join(" ")')
  echo "streets: resource $streets ($streets_name), file $dist; villages: resource $villages"
  local download="/dataset/$streets_name/resource/$dist/download"
  curl -fsS -o /dev/null -H "Authorization: Bearer $reader" "$base$download"
  cut -d, -f1 "$REGIONS/streets.csv" | sed 1d | shuf -n 500 --random-source=<(yes) >"$dir/codes.txt"

  local from to
  from=$(date -d tomorrow +%F)
  to=$(date -d '+180 days' +%F)
  export PERIOD_FROM=$from PERIOD_TO=$to THREADS=1
  # Phase 1: applications to review in phase 2.
  OUT="$dir/seeded" TOKEN="$applicant" RESOURCE="$villages" \
    wrk -t1 -c32 -d15s --timeout 10s -s bench/load/apply.lua "$base" >"$dir/phase1.txt"
  cat "$dir"/seeded.* >"$dir/queue.txt"
  echo "phase 1: $(grep -c '^submitted' "$dir/queue.txt") applications submitted for pre-review"

  # Phase 2: everything at once.
  local start_ticks
  start_ticks=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
  run() {
    local name=$1 conns=$2
    shift 2
    env "$@" wrk -t1 -c"$conns" -d"$DURATION" --timeout 10s --latency -s "bench/load/$name.lua" "$base" \
      >"$dir/$name.txt" 2>&1
  }
  run search 48 &
  run pages 64 DATASETS="$datasets" &
  run rows 48 TOKEN="$reader" RESOURCE="$streets" CODES="$dir/codes.txt" &
  run download 16 TOKEN="$reader" DOWNLOAD="$download" &
  run apply 48 TOKEN="$applicant" RESOURCE="$villages" OUT="$dir/applied" &
  run review 32 TOKEN="$reviewer" QUEUE="$dir/queue.txt" OUT="$dir/decided" &
  wait $(jobs -p | grep -v "^$SERVER$") 2>/dev/null || true
  local cpu_s
  cpu_s=$(awk -v s="$start_ticks" -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15 - s) / hz}' "/proc/$SERVER/stat")
  local rss
  rss=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$SERVER/status")

  echo
  echo "| route | connections | requests | req/s | p50 | p99 | max | statuses |"
  echo "|---|---|---|---|---|---|---|---|"
  local name conns total=0 bad=0
  for name in search:48 pages:64 rows:48 download:16 apply:48 review:32; do
    conns=${name#*:}
    name=${name%:*}
    local st lat rps
    st=$(awk '/^STATUS/ {$1 = ""; $2 = ""; print substr($0, 3)}' "$dir/$name.txt")
    lat=$(grep '^LATENCY' "$dir/$name.txt" || true)
    [ -n "$lat" ] || { echo "wrk for $name printed no result:" >&2; cat "$dir/$name.txt" >&2; fail=1; continue; }
    rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$dir/$name.txt")
    field() { echo "$lat" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }
    echo "| $name | $conns | $(field requests) | $rps | $(field p50) ms | $(field p99) ms | $(field max) ms | $st |"
    total=$((total + $(field requests)))
    # 5xx and connection errors fail the run.
    local five
    five=$(echo "$st" | tr ' ' '\n' | awk -F= '$1 >= 500 {n += $2} END {print n + 0}')
    bad=$((bad + five + $(field errors)))
  done
  echo
  echo "$total requests; server CPU ${cpu_s} s; peak RSS ${rss} MiB"

  # Lost writes: every acknowledged write is in the database.
  cat "$dir"/applied.* "$dir"/decided.* "$dir/queue.txt" 2>/dev/null >"$dir/acked.txt" || true
  local created submitted decided
  created=$(awk '$1 == "created" {print $2}' "$dir/acked.txt" | sort -u | paste -sd, -)
  submitted=$(awk '$1 == "submitted" {print $2}' "$dir/acked.txt" | sort -u | paste -sd, -)
  decided=$(awk '$1 == "decided" {print $2}' "$dir/acked.txt" | sort -u | paste -sd, -)
  local n_created n_submitted n_decided
  n_created=$(echo "$created" | tr ',' '\n' | grep -c . || true)
  n_submitted=$(echo "$submitted" | tr ',' '\n' | grep -c . || true)
  n_decided=$(echo "$decided" | tr ',' '\n' | grep -c . || true)
  local have_created have_submitted have_decided
  have_created=$(sql "SELECT count(*) FROM applications WHERE id IN (${created:-0})")
  have_submitted=$(sql "SELECT count(*) FROM applications WHERE id IN (${submitted:-0}) AND state <> 'draft'")
  have_decided=$(sql "SELECT count(*) FROM applications WHERE id IN (${decided:-0}) AND state = 'provider_review'")
  echo "acknowledged: $n_created created ($have_created in the database), $n_submitted submitted" \
    "($have_submitted no longer drafts), $n_decided forwarded ($have_decided with the provider)"
  local lost=$(((n_created - have_created) + (n_submitted - have_submitted) + (n_decided - have_decided)))
  echo "5xx and connection errors: $bad; lost writes: $lost"
  [ "$bad" = 0 ] && [ "$lost" = 0 ] || fail=1
  env "${env[@]}" "$BIN" audit verify | tail -1

  kill "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  SERVER=""
  if [ -n "$DB" ]; then dropdb -h 127.0.0.1 -U postgres --if-exists "$DB"; DB=""; fi
}

for b in $BACKENDS; do run_backend "$b"; done
[ "$fail" = 0 ] && echo "load: passed" || { echo "load: FAILED" >&2; exit 1; }
