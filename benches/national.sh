#!/usr/bin/env bash
# The national-scale benchmark: for each scale (a share of 1,000,000 enterprises,
# about two years of months), generate a batch once, then time in the same run:
#   zhibao audit          wall time, rows per second, peak RSS (/usr/bin/time -v):
#                         a first audit (grade state rebuilt from the history: the
#                         headline), a monthly run with --previous-grades, and a
#                         run with rebuild_months = 0
#   the DuckDB baseline   benches/duckdb_baseline.py (the core work in SQL)
#   the scan floor        benches/scan_floor.py (reading the columns used)
# and print the ratios. Results go to target/bench-national/results.md.
#
# usage: bash benches/national.sh [SCALE ...]        (default: 0.1 0.3 1)
set -euo pipefail
cd "$(dirname "$0")/.."
scales=("${@:-0.1 0.3 1}")
[ $# -eq 0 ] && scales=(0.1 0.3 1)

work=${ZHIBAO_BENCH_DIR:-target/bench-national}
mkdir -p "$work"
# ZHIBAO_BIN: time another build (e.g. an older commit's) instead of this one's.
if [ -z "${ZHIBAO_BIN:-}" ]; then
  cargo build --release --quiet
fi
bin=${ZHIBAO_BIN:-target/release/zhibao}

venv=target/bench-venv
if ! "$venv/bin/python" -c "import duckdb, pyarrow" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check duckdb pyarrow
fi
py="$venv/bin/python"

# Runs a command under /usr/bin/time -v; prints "seconds peak_kb".
measure() {
  local log; log=$(mktemp)
  /usr/bin/time -v "$@" >/dev/null 2>"$log" || { cat "$log" >&2; exit 1; }
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$log" | awk '{print $NF}')
  rm -f "$log"
  # h:mm:ss or m:ss.ss → seconds
  echo "$wall" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }'
  echo " $rss"
}

results="$work/results.md"
{
  echo "| scale | enterprises | rows | generate s | run | zhibao s | rows/s | zhibao peak RSS MB | DuckDB s | zhibao / DuckDB | scan floor s | zhibao / floor |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
} > "$results"

for scale in "${scales[@]}"; do
  n=$(awk -v s="$scale" 'BEGIN { printf "%d", s * 1000000 }')
  data="$work/batch-$n"
  gen_s="(cached)"
  if [ ! -f "$data/enterprises.parquet" ]; then
    rm -rf "$data" "$data.labels.csv"
    read -r gen_s _ < <(measure "$bin" -q generate --out "$data" --enterprises "$n" --months 24 --seed 1)
  fi
  rows=$("$py" -c "
import pyarrow.dataset as ds, sys
d = '$data'
print(sum(ds.dataset(f'{d}/{t}', format='parquet', partitioning='hive').count_rows()
          for t in ['enterprises.parquet', 'industrial', 'tax', 'energy', 'rd.parquet', 'investment.parquet', 'labor.parquet', 'services.parquet', 'verifications.parquet']))")
  read -r d_s _ < <(measure "$py" benches/duckdb_baseline.py "$data" "$work/duck-$n" 2)
  read -r f_s _ < <(measure "$py" benches/scan_floor.py "$data")
  row() { # run-name seconds peak-kb
    awk -v sc="$scale" -v n="$n" -v r="$rows" -v g="$gen_s" -v run="$1" -v z="$2" -v kb="$3" -v d="$d_s" -v f="$f_s" 'BEGIN {
      printf "| %s | %d | %d | %s | %s | %.1f | %.0f | %.0f | %.1f | %.2f | %.1f | %.2f |\n", sc, n, r, g, run, z, r / z, kb / 1024, d, z / d, f, z / f }' | tee -a "$results"
  }
  # Headline: a first audit, the grade state rebuilt from the earlier months (the
  # run a new user makes).
  read -r z_s z_kb < <(measure "$bin" -q audit --data "$data" --out "$work/out-$n" --seed 1 --force)
  row "first audit (grade state rebuilt)" "$z_s" "$z_kb"
  # The monthly run: last month's grades.parquet given (written, untimed, by an
  # audit of the month before).
  period=$("$py" -c "import json; print(json.load(open('$work/out-$n/summary.json'))['period'])")
  before=$("$py" -c "y, m = map(int, '$period'.split('-')); m -= 1; y, m = (y - 1, 12) if m == 0 else (y, m); print(f'{y}-{m:02d}')")
  "$bin" -q audit --data "$data" --out "$work/prev-$n" --period "$before" --seed 1 --force >/dev/null
  read -r z_s z_kb < <(measure "$bin" -q audit --data "$data" --out "$work/month-$n" --seed 1 --force --previous-grades "$work/prev-$n/grades.parquet")
  row "monthly (--previous-grades)" "$z_s" "$z_kb"
  # This month's grades alone (rebuild_months = 0), for comparison with earlier figures.
  read -r z_s z_kb < <(measure "$bin" -q audit --data "$data" --out "$work/norebuild-$n" --seed 1 --pipeline benches/national.toml --force)
  row "rebuild_months = 0" "$z_s" "$z_kb"
done
echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; results in $results"
