#!/usr/bin/env bash
# Accuracy per time base of three ways to train one model (docs/science.md, "Time resolution"): the
# configs/shd.toml model trained on its 2 ms clock, on the event schedule (1 ms resolution, max_dt
# 2 ms) and schedule-robust (configs/shd_any_resolution.toml's [train] time settings), all for the same
# steps on spoken digits through a model cochlea (`gen-shd --kind speech`), then each simulated with
# `elmsim resolutions` at 0.25, 0.5, 1, 2, 5 and 20 ms. Prints one Markdown table (accuracy per time
# base and model, training seconds per step) and writes each model's table as JSON for
#   tools/elmsim_plot.py resolutions --table WORK/clock.json WORK/event.json WORK/any.json --out res.png
# Usage: tools/bench/time_bases.sh [STEPS] [THREADS]
#   (defaults 2500 and 2; binary build/release/elmsim or $ELMSIM; work folder runs/time_bases or $WORK;
#   models already trained there are reused). About 35 minutes on 2 cores at the defaults.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
steps=${1:-2500}
threads=${2:-2}
bin=${ELMSIM:-build/release/elmsim}
work=${WORK:-runs/time_bases}
mkdir -p "$work"
[ -f "$work/train.h5" ] || "$bin" gen-shd --kind speech --out "$work/train.h5" --samples 2000 --seed 1 >/dev/null
[ -f "$work/test.h5" ] || "$bin" gen-shd --kind speech --out "$work/test.h5" --samples 1000 --seed 2 >/dev/null
data=$(cd "$work" && pwd)

# The [train] time lines of the robust recipe, with clock_steps scaled from its max_steps to STEPS.
any_lines() {
  local max clock
  max=$(sed -n 's/^max_steps = \([0-9]*\).*/\1/p' configs/shd_any_resolution.toml)
  clock=$(sed -n 's/^clock_steps = \([0-9]*\).*/\1/p' configs/shd_any_resolution.toml)
  sed -n '/^time = /p; /^resolutions_ms = /p; /^max_dt_ms = /p; /^resolution_draw = /p; /^resolution_weights = /p' configs/shd_any_resolution.toml
  echo "clock_steps = $((clock * steps / max))"
}

# write_config NAME [TRAIN LINES]: configs/shd.toml on the speech data, evaluated at the end only.
write_config() {
  sed -e "s|^train = .*|train = \"$data/train.h5\"|" -e "s|^test = .*|test = \"$data/test.h5\"|" \
      -e "s|^eval_every = .*|eval_every = $steps|" -e "s|^checkpoint_every = .*|checkpoint_every = 0|" \
      -e "s|^out_dir = .*|out_dir = \"$data\"|" configs/shd.toml > "$work/$1.toml"
  [ $# -lt 2 ] || printf '%s\n' "$2" >> "$work/$1.toml"
}
write_config clock
write_config event $'time = "event"\nresolution_ms = 1.0\nmax_dt_ms = 2.0'
write_config any "$(any_lines)"

for name in clock event any; do
  if [ ! -f "$work/$name.h5" ]; then
    t0=$(date +%s.%N)
    "$bin" train --config "$work/$name.toml" --max-steps "$steps" --threads "$threads" --quiet \
      --out "$work/$name.h5" > "$work/$name.train.txt"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v n="$steps" 'BEGIN { printf "%.3f\n", (b - a) / n }' > "$work/$name.s_per_step"
  fi
  [ -f "$work/$name.json" ] || "$bin" resolutions --model "$work/$name.h5" --data "$work/test.h5" \
    --threads "$threads" --json "$work/$name.json" > /dev/null
done

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
names = ["clock", "event", "any"]
tables = {n: json.load(open(f"{work}/{n}.json"))["rows"] for n in names}
print("| time base | max_dt ms | clock-trained | event-trained (1 ms) | robust-trained (any) | updates |")
print("| --- | --: | --: | --: | --: | --: |")
for k, row in enumerate(tables["clock"]):
    accs = " | ".join(f"{tables[n][k]['accuracy']:.4f}" for n in names)
    print(f"| {row['time_base']} | {row['max_dt_ms']:g} | {accs} | {row['updates']:,} |")
secs = " | ".join(open(f"{work}/{n}.s_per_step").read().strip() for n in names)
print(f"| training s per step | | {secs} | |")
PY
