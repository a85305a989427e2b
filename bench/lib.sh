# Shared by the bench scripts (sourced).

# A TCP port nothing listens on.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

# One figure for bench/run's table, appended to $BENCH_RESULTS when it is set:
#   result MEASURE VALUE [BASELINE] [RATIO] [TARGET] [MET]
# MET is yes, no or empty (no target).
result() {
  [ -n "${BENCH_RESULTS:-}" ] || return 0
  local IFS='|'
  echo "$*" >>"$BENCH_RESULTS"
}

# "yes" when $1 $2 $3 holds numerically (e.g. met 12.3 '<=' 20).
met() { [ "$(echo "$1 $2 $3" | bc -l)" = 1 ] && echo yes || echo no; }
