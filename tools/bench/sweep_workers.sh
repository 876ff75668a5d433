#!/usr/bin/env bash
# Budget sweeps, measured (docs/benchmarks.md, "Budget sweeps"): one sweep of the demo's recipe run
# twice from scratch, with 1 worker and with 2 workers (1 thread per run each time), printing one
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
for w in 1 2; do
  rm -rf "$work/w$w"
  out=$("$bin" sweep --config "$work/sweep.toml" --out "$work/w$w" --workers "$w" --threads 1 --quiet)
  runs=$(grep -o '^sweep: [0-9]* finished now' <<<"$out" | grep -o '[0-9]*')
  read -r wall setup train eval < <(sed -n 's/^time: *\([0-9.]*\) s wall; per run setup \([0-9.]*\) s, training \([0-9.]*\) s, final test evaluation \([0-9.]*\) s.*/\1 \2 \3 \4/p' <<<"$out")
  [ -n "$base_wall" ] || base_wall=$wall
  awk -v w="$w" -v n="$runs" -v wall="$wall" -v b="$base_wall" -v s="$setup" -v t="$train" -v e="$eval" \
    'BEGIN { printf "| %d | %d | %.1f | %.2fx | %.2f | %.2f | %.2f | %.1f %% |\n", w, n, wall, b / wall, s, t, e, 100 * s / (s + t + e) }'
done
# Both sweeps trained the same runs: their results agree bit for bit (timings aside).
strip() { sed -E 's/,?"(train|setup|eval)_seconds":[^,}]*//g; s/"host":"[^"]*",//' "$1/results.jsonl"; }
if diff <(strip "$work/w1") <(strip "$work/w2") >/dev/null; then echo; echo "results.jsonl of 1 and 2 workers: identical (timings aside)"
else echo; echo "results.jsonl of 1 and 2 workers DIFFER"; fi
