#!/usr/bin/env bash
# Builds every cargo-fuzz target once and runs each for a bounded time; fails (exit 1) when any
# target finds a crash, a panic, a failed invariant, a timeout or an out-of-memory input, and
# prints where libFuzzer saved the input. See docs/security.md, "Fuzzing".
#
#   bash fuzz/run.sh                       # every target, FUZZ_SECONDS (default 45) each
#   FUZZ_SECONDS=600 bash fuzz/run.sh csv_reader privacy
#
# The seed corpus (fuzz/corpus/<target>/) is read, never written: new inputs go to a scratch
# corpus under fuzz/target/, which later runs on this machine reuse.
set -euo pipefail
cd "$(dirname "$0")"

FUZZ_SECONDS="${FUZZ_SECONDS:-45}"
CARGO_FUZZ_VERSION=0.12.0
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

# cargo-fuzz needs a nightly compiler (sanitizer flags). Use the nightly toolchain when the
# machine has one; otherwise the stable one with its unstable flags unlocked.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  echo "no nightly toolchain: using stable with RUSTC_BOOTSTRAP=1"
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <("${fuzz[@]}" list)
fi

start=$(date +%s)
"${fuzz[@]}" build
echo "built ${#targets[@]} targets in $(($(date +%s) - start)) s"

failed=()
for t in "${targets[@]}"; do
  scratch="target/corpus-run/$t"
  mkdir -p "$scratch" "corpus/$t" "artifacts/$t"
  touch "target/.mark-$t"
  echo "== fuzz $t for ${FUZZ_SECONDS} s"
  # -timeout: one input taking longer is a finding; -rss_limit_mb: so is one needing more memory.
  # Only the scratch corpus is given, seeded from the committed one, so nothing is written there.
  cp -n "corpus/$t"/* "$scratch"/ 2>/dev/null || true
  if ! "${fuzz[@]}" run "$t" "$scratch" -- \
      -max_total_time="$FUZZ_SECONDS" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
      >"target/fuzz-$t.log" 2>&1; then
    tail -n 60 "target/fuzz-$t.log"
    echo "FUZZ FAILURE in $t; the input is saved as:"
    find "artifacts/$t" -type f -newer "target/.mark-$t" | sed 's/^/  fuzz\//'
    echo "reproduce: cargo +nightly fuzz run $t <that file>"
    failed+=("$t")
  else
    grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done )' "target/fuzz-$t.log" || true
  fi
done

echo "fuzzing took $(($(date +%s) - start)) s in all"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets that failed: ${failed[*]}" >&2
  exit 1
fi
echo "all ${#targets[@]} fuzz targets ran ${FUZZ_SECONDS} s each without a crash"
