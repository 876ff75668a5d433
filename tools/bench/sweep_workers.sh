#!/usr/bin/env bash
# Budget sweeps, measured (docs/benchmarks.md, "Budget sweeps"): one sweep of the demo's recipe run
# from scratch with 1 worker, with 2 workers and (where Open MPI's mpiexec is installed) as one MPI job
# of 2 processes (1 thread per run each time), printing one
# Markdown table: wall time, speedup, and the mean per-run setup (config, data, model), training and
# final-evaluation seconds that `elmsim sweep` reports — the overhead of a run against its work.
#   tools/bench/sweep_workers.sh [STEPS] [BUDGETS]
#   (defaults 300 and "[1e3, 3e3, 1e4]": axes N, k_e, k_c, 3 points, 1 seed; binary
#   build/release/elmsim, or $ELMSIM; work folder runs/sweep_workers, or $WORK)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
steps=${1:-300}
budgets=${2:-"[1e3, 3e3, 1e4]"}
bin=${ELMSIM:-build/release/elmsim}
work=${WORK:-runs/sweep_workers}
mkdir -p "$work" data/demo
[ -f data/demo/shd_train.h5 ] || "$bin" gen-shd --out data/demo/shd_train.h5 --samples 2000 --seed 1 >/dev/null
[ -f data/demo/shd_test.h5 ] || "$bin" gen-shd --out data/demo/shd_test.h5 --samples 500 --seed 2 >/dev/null
cat > "$work/sweep.toml" <<TOML
[sweep]
base = "$(pwd)/configs/demo_sweep_base.toml"
budgets = $budgets
axes = ["N", "k_e", "k_c"]
points = 3
seeds = [1]
steps = $steps
TOML
echo "| workers | runs | wall s | speedup | setup s/run | train s/run | eval s/run | setup / (setup + train + eval) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
base_wall=""
row() {  # LABEL DIR FLAGS [LAUNCHER...]
  local label=$1 dir=$2 flags=$3; shift 3
  out=$("$@" "$bin" sweep --config "$work/sweep.toml" --out "$dir" --threads 1 --quiet $flags)
  runs=$(grep -o '^sweep: [0-9]* finished now' <<<"$out" | grep -o '[0-9]*')
  read -r wall setup train eval < <(sed -n 's/^time: *\([0-9.]*\) s wall; per run setup \([0-9.]*\) s, training \([0-9.]*\) s, final test evaluation \([0-9.]*\) s.*/\1 \2 \3 \4/p' <<<"$out")
  [ -n "$base_wall" ] || base_wall=$wall
  awk -v w="$label" -v n="$runs" -v wall="$wall" -v b="$base_wall" -v s="$setup" -v t="$train" -v e="$eval" \
    'BEGIN { printf "| %s | %d | %.1f | %.2fx | %.2f | %.2f | %.2f | %.1f %% |\n", w, n, wall, b / wall, s, t, e, 100 * s / (s + t + e) }'
}
rm -rf "$work/w1" "$work/w2" "$work/mpi2"
row 1 "$work/w1" "--workers 1"
row 2 "$work/w2" "--workers 2"
if command -v mpiexec >/dev/null; then
  row "2 processes (MPI)" "$work/mpi2" "" env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    mpiexec --bind-to none -n 2
fi
# Both sweeps trained the same runs: their results agree bit for bit (timings aside).
strip() { sed -E 's/,?"(train|setup|eval)_seconds":[^,}]*//g; s/"host":"[^"]*",//' "$1/results.jsonl"; }
for other in w2 mpi2; do
  [ -d "$work/$other" ] || continue
  if diff <(strip "$work/w1") <(strip "$work/$other") >/dev/null; then echo "results.jsonl of w1 and $other: identical (timings aside)"
  else echo "results.jsonl of w1 and $other DIFFER"; fi
done
