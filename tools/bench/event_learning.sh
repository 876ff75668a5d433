#!/usr/bin/env bash
# Event-driven learning, measured (docs/benchmarks.md, "Event-driven learning"): trains the demo's
# model on three time bases — the clock at 20 ms and at 2 ms, and the event schedule at 1 ms
# resolution with ticks every 20 ms at most — and simulates each trained model on the test set in
# clock mode and event-driven at several resolutions, printing one Markdown table: test accuracy,
# engine updates per sample, training ms per step and per update of the batch, and the seconds of
# `eval` against a traced `simulate` (y of every neuron at every update) on the model's own time base.
#   tools/bench/event_learning.sh [STEPS] [THREADS] [TASK]
#   (defaults 1000, 2 and shd-adding (500 test pairs); TASK shd: the 500 single digits; binary
#   build/release/elmsim, or $ELMSIM; work folder runs/event_learning-TASK, or $WORK)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
steps=${1:-1000}
threads=${2:-2}
task=${3:-shd-adding}
case "$task" in shd | shd-adding) ;; *) echo "event_learning.sh: TASK is shd or shd-adding, not $task" >&2; exit 2 ;; esac
bin=${ELMSIM:-build/release/elmsim}
work=${WORK:-runs/event_learning-$task}
mkdir -p "$work" data/demo
[ -f data/demo/shd_train.h5 ] || "$bin" gen-shd --out data/demo/shd_train.h5 --samples 2000 --seed 1 >/dev/null
[ -f data/demo/shd_test.h5 ] || "$bin" gen-shd --out data/demo/shd_test.h5 --samples 500 --seed 2 >/dev/null
data=$(cd data/demo && pwd)

# name | dt_ms | [train] lines for the time base
bases=("clock20|20.0|" "clock2|2.0|" "event1|20.0|time = \"event\"
resolution_ms = 1.0
max_dt_ms = 20.0")

write_config() {  # name dt extra
  cat > "$work/$1.toml" <<TOML
[task]
kind = "$task"
train = "$data/shd_train.h5"
test = "$data/shd_test.h5"
dt_ms = $2
$([ "$task" = shd-adding ] && echo "adding_test_pairs = 500")
[model]
N = 64
d_m = 12
n_b = 4
k_c = 32
tau_init_min_ms = 10.0
tau_init_max_ms = 1000.0
seed = 1
[train]
optimizer = "adamax"
lr = 1e-2
schedule = "cosine"
lr_min = 1e-3
batch_size = 8
dropout = 0.1
max_steps = $steps
log_every = 50
seed = 1
$3
TOML
}

# ms per step of the whole run (metrics log: the last train line's steps/s).
ms_per_step() { grep '"kind": "train"' "$1" | tail -1 | sed -E 's/.*"steps_per_s": ([0-9.e+-]+).*/\1/' | awk '{printf "%.1f", 1000 / $1}'; }

# seconds COMMAND...: runs it, prints its stdout, then the wall seconds it took on a last line
seconds() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "\n%.2f\n", b - a }'
}

# simulate MODEL RECORD ARGS -> "accuracy updates_per_sample seconds"
simulate() {
  local out
  out=$(seconds "$bin" simulate --model "$1" --data "$data/shd_test.h5" --threads "$threads" --trace "$work/trace.h5" \
        $2 ${3:-} 2>/dev/null)
  local acc upd n
  acc=$(echo "$out" | sed -n 's/.*accuracy \([0-9.]*\),.*/\1/p')
  n=$(echo "$out" | sed -n 's/.* \([0-9]*\) samples,.*/\1/p')
  upd=$(echo "$out" | sed -n 's/^updates \([0-9]*\) .*/\1/p')
  echo "$acc $((upd / n)) $(echo "$out" | tail -1)"
}

echo "| trained on | train ms/step | updates/sample (train) | train ms per batch update | eval accuracy | eval s | traced simulate s | simulated as | sim accuracy | sim updates/sample |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for b in "${bases[@]}"; do
  name=${b%%|*}; rest=${b#*|}; dt=${rest%%|*}; extra=${rest#*|}
  write_config "$name" "$dt" "$extra"
  model="$work/$name.h5"
  if [ ! -f "$model" ]; then
    "$bin" train --config "$work/$name.toml" --threads "$threads" --quiet --out "$model" > "$work/$name.train.txt"
  fi
  eval_out=$(seconds "$bin" eval --model "$model" --data "$data/shd_test.h5" --threads "$threads")
  eval_acc=$(echo "$eval_out" | sed -n 's/.*accuracy \([0-9.]*\) over.*/\1/p')
  eval_s=$(echo "$eval_out" | tail -1)
  ms=$(ms_per_step "$work/$name.metrics.jsonl")
  # Traced: y of every neuron at every update, as `simulate` records by default.
  read -r _ own_upd own_s <<<"$(simulate "$model" "--record y")"
  # Per update: ms per step over the mean updates of a sample, so an event batch's padding (it runs
  # as many steps as its longest sample: 7-11 % of its row-updates at batch 8 here) is in the figure.
  per_update=$(awk -v ms="$ms" -v u="$own_upd" 'BEGIN { printf "%.3f", ms / u }')
  first=1
  for mode in "" "--mode clock" "--mode event --resolution-ms 1 --max-dt-ms 20" "--mode event --resolution-ms 1 --max-dt-ms 2" \
              "--mode event --resolution-ms 0.25 --max-dt-ms 2" "--mode event --resolution-ms 1 --max-dt-ms 2 --drive per_update"; do
    read -r acc upd _ <<<"$(simulate "$model" "--record logits --final-logits" "$mode")"
    label=${mode:-"(its own time base)"}
    if [ $first -eq 1 ]; then
      echo "| $name | $ms | $own_upd | $per_update | $eval_acc | $eval_s | $own_s | $label | $acc | $upd |"
      first=0
    else
      echo "| | | | | | | | $label | $acc | $upd |"
    fi
  done
done
