#!/usr/bin/env bash
# Registers, spills, stack and shared memory per kernel of the CUDA backend, as ptxas allocates them:
# each gpu/*.cu compiled again, one at a time, with exactly the flags of the build (ninja -t commands)
# plus -Xptxas -v, and the report as a Markdown table. Needs no GPU, only a build folder configured
# with CUDA (nvcc found: ELM_CUDA=AUTO or ON; the architecture is the build's).
#
#   gpu/checks/ptxas_report.sh [BUILD_DIR]      (default build/release)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
build=${1:-build/release}
[ -f "$build/build.ninja" ] || { echo "ptxas_report: $build/build.ninja missing: configure a CUDA build there first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
found=0
for cu in gpu/*.cu; do
  stem=$(basename "$cu")
  cmd=$(ninja -C "$build" -t commands "gpu/CMakeFiles/elm_gpu.dir/$stem.o" 2>/dev/null | tail -n1)
  case $cmd in *nvcc*) ;; *) echo "ptxas_report: $build builds $cu without nvcc (an emulation build?)" >&2; exit 1 ;; esac
  found=1
  # The build's command without its dependency file and output, then ptxas's report.
  cmd=$(sed -e 's/ -MD -MT [^ ]* -MF [^ ]*//' -e "s| -o [^ ]*\$| -o $tmp/$stem.o|" <<<"$cmd")
  (cd "$build" && eval "$cmd -Xptxas -v") >"$tmp/$stem.txt" 2>&1 || { cat "$tmp/$stem.txt" >&2; exit 1; }
  echo "$cmd -Xptxas -v" | sed "s| -o $tmp/| -o /tmp/|" >>"$tmp/commands.txt"
done
((found)) || { echo "ptxas_report: no gpu/*.cu" >&2; exit 1; }
arch=$(grep -ohm1 "for 'sm_[0-9a-z]*'" "$tmp"/*.cu.txt | head -n1 | tr -d "'" | sed 's/for //')
echo "Kernels of gpu/*.cu for $arch ($(basename "$(grep -om1 '[^ ]*nvcc' "$tmp/commands.txt")") $("$(grep -om1 '[^ ]*nvcc' "$tmp/commands.txt")" --version | grep -o 'release [0-9.]*'), flags of $build):"
echo
echo "| file | kernel | registers | spill stores (B) | spill loads (B) | stack (B) | shared (B) | barriers |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for f in "$tmp"/*.cu.txt; do
  awk -v file="$(basename "$f" .txt)" '
    /Compiling entry function/ { name = $0; sub(/^[^\047]*\047/, "", name); sub(/\047.*/, "", name) }
    /bytes stack frame/ { stack = $1; spill_st = $5; spill_ld = $9 }
    /Used [0-9]+ registers/ {
      regs = $0; sub(/.*Used /, "", regs); sub(/ registers.*/, "", regs)
      bar = $0; sub(/.*used /, "", bar); sub(/ barriers.*/, "", bar)
      smem = 0; if ($0 ~ /bytes smem/) { smem = $0; sub(/ bytes smem.*/, "", smem); sub(/.* /, "", smem) }
      print file "\t" name "\t" regs "\t" spill_st "\t" spill_ld "\t" stack "\t" smem "\t" bar
    }' "$f"
done | while IFS=$'\t' read -r file name regs st ld stack smem bar; do
  short=$(c++filt "$name" | sed -e 's/(anonymous namespace):://g' -e 's/(.*//' -e 's/.*:://')
  echo "| $file | $short | $regs | $st | $ld | $stack | $smem | $bar |"
done
echo
echo "Commands (run in $build):"
sed 's/^/    /' "$tmp/commands.txt"
