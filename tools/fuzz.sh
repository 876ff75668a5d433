#!/usr/bin/env bash
# Run one libFuzzer target of tests/fuzz for a bounded time (docs/reliability.md):
#     tools/fuzz.sh TARGET SECONDS     TARGET: protocol checkpoint trace spike_dataset byte_stream
#                                              experiment_config sweep_config, or "all"
# Builds the `fuzz` preset (clang, ASan + UBSan) when needed, seeds build/fuzz/corpus/TARGET with the
# project's own writers (elm_fuzz_seeds) the first time, and fuzzes from that corpus; new inputs are
# kept there. A crash, leak, hang (20 s) or sanitizer report ends the run with exit 1 and leaves its
# input in build/fuzz/artifacts/TARGET/ — make it a regression test in tests/ (one per bug).
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(protocol checkpoint trace spike_dataset byte_stream experiment_config sweep_config)
if [ $# -ne 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: tools/fuzz.sh TARGET|all SECONDS   (targets: ${targets[*]})" >&2
  exit 2
fi
want=("$1")
[ "$1" = all ] && want=("${targets[@]}")
for t in "${want[@]}"; do
  if ! printf '%s\n' "${targets[@]}" | grep -qx "$t"; then
    echo "fuzz.sh: unknown target '$t' (targets: ${targets[*]})" >&2
    exit 2
  fi
done
if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ is needed (apt install clang libfuzzer-14-dev; tools/setup.sh installs them)" >&2
  exit 2
fi
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j2
out=build/fuzz
if [ ! -d "$out/corpus/protocol" ]; then
  "$out/tests/fuzz/elm_fuzz_seeds" "$PWD" "$out/corpus"
fi
status=0
for t in "${want[@]}"; do
  mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
  echo "fuzz.sh: $t for $2 s"
  # libhdf5's own leaks on damaged files are suppressed (tests/fuzz/lsan.supp); elmsim's are reported.
  if ! ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp \
      UBSAN_OPTIONS=print_stacktrace=1 \
      "$out/tests/fuzz/fuzz_$t" "$out/corpus/$t" -max_total_time="$2" -timeout=20 -rss_limit_mb=2048 \
      -max_len=1048576 -artifact_prefix="$out/artifacts/$t/" -print_final_stats=1 2>"$out/fuzz_$t.log"; then
    echo "fuzz.sh: $t FOUND A PROBLEM: see $out/fuzz_$t.log and $out/artifacts/$t/" >&2
    tail -30 "$out/fuzz_$t.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$out/fuzz_$t.log" | tr '\n' ' '
    echo
  fi
done
exit $status
