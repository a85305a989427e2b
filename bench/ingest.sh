#!/usr/bin/env bash
# Ingest benchmark: the sqlite3 shell's `.import` against pubdata's whole pipeline (decode,
# profile, quality audit with a declared key on `code`, privacy scan, load into a fresh SQLite
# datastore table) on villages.csv (620,573 rows), best of 3 each; then peak RSS on
# villages.csv and on a ~1 GB file of its rows repeated. Numbers are recorded in
# docs/performance.md.
#
#   bash bench/ingest.sh            # needs sqlite3, GNU time and bc (installed if missing)
#   RUNS=5 BIG_MB=2048 bash bench/ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

RUNS="${RUNS:-3}"
BIG_MB="${BIG_MB:-1024}"
DATA="${PUBDATA_DATA:-../shared/data}/villages.csv.gz"

need=()
command -v sqlite3 >/dev/null || need+=(sqlite3)
[ -x /usr/bin/time ] || need+=(time)
command -v bc >/dev/null || need+=(bc)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -f "$DATA" ] || { echo "missing $DATA (set PUBDATA_DATA to the folder holding villages.csv.gz)" >&2; exit 1; }

# BUILD=0 uses the release binary already built.
if [ "${BUILD:-1}" = 1 ]; then
  cargo build --release -q -p pubdata-ingest --example ingest_bench
fi
BIN="$PWD/target/release/examples/ingest_bench"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
gzip -dc "$DATA" > "$TMP/villages.csv"
rows=$(($(wc -l < "$TMP/villages.csv") - 1))

# Seconds (wall clock) of one run of "$@", after removing the database files.
timed() {
  rm -f "$TMP"/fresh.db*
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

best() {
  local best_s="" s
  for _ in $(seq "$RUNS"); do
    s=$(timed "$@")
    if [ -z "$best_s" ] || [ "$(echo "$s < $best_s" | bc -l)" = 1 ]; then best_s=$s; fi
  done
  printf '%.3f' "$best_s"
}

# Peak resident set size in MiB of one run of "$@".
peak_rss() {
  rm -f "$TMP"/fresh.db*
  /usr/bin/time -v "$@" 2> "$TMP/time.log" >/dev/null
  awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$TMP/time.log"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB memory, $(uname -sr)"
echo "sqlite3 $(sqlite3 --version | cut -d' ' -f1); villages.csv: $rows rows, $(du -m "$TMP/villages.csv" | cut -f1) MB"

shell=$(best sqlite3 "$TMP/fresh.db" '.import --csv '"$TMP/villages.csv"' v')
pipeline=$(best "$BIN" "$TMP/villages.csv" "$TMP/fresh.db")
echo "sqlite3 .import:        ${shell} s (best of $RUNS)"
echo "pubdata pipeline:       ${pipeline} s (best of $RUNS)"
ratio=$(echo "$pipeline / $shell" | bc -l | xargs printf '%.2f')
echo "ratio:                  $ratio (target <= 2.00)"
result "ingest, villages.csv ($rows rows): time, pubdata pipeline / sqlite3 .import" "$pipeline s" \
  "$shell s" "$ratio" "≤ 2.00" "$(met "$ratio" '<=' 2)"
rm -f "$TMP"/fresh.db*
"$BIN" "$TMP/villages.csv" "$TMP/fresh.db"

rss=$(peak_rss "$BIN" "$TMP/villages.csv" "$TMP/fresh.db")
echo "peak RSS, villages.csv: $rss MiB (target < 200)"
result "ingest peak RSS, villages.csv" "$rss MiB" "" "" "< 200 MiB" "$(met "$rss" '<' 200)"

# A ~1 GB file: the header once, then villages.csv's data rows repeated.
head -n 1 "$TMP/villages.csv" > "$TMP/big.csv"
tail -n +2 "$TMP/villages.csv" > "$TMP/rows.csv"
while [ "$(stat -c %s "$TMP/big.csv")" -lt $((BIG_MB * 1024 * 1024)) ]; do
  cat "$TMP/rows.csv" >> "$TMP/big.csv"
done
rm "$TMP/rows.csv" "$TMP/villages.csv"
echo "big.csv: $(($(wc -l < "$TMP/big.csv") - 1)) rows, $(du -m "$TMP/big.csv" | cut -f1) MB"
start=$(date +%s.%N)
rss=$(peak_rss "$BIN" "$TMP/big.csv" "$TMP/fresh.db")
echo "peak RSS, big.csv:      $rss MiB (target < 200)"
result "ingest peak RSS, ~$BIG_MB MiB file" "$rss MiB" "" "" "< 200 MiB" "$(met "$rss" '<' 200)"
echo "big.csv pipeline:       $(echo "$(date +%s.%N) - $start" | bc -l | xargs printf '%.1f') s"
