#!/usr/bin/env bash
# Runs the embedding example (tools/example/train_and_simulate.cpp) and checks what it printed: the
# tiny model learned (test accuracy well above chance, 1/20) and the event-mode simulation on the
# training grid scored exactly what the training run's evaluation scored (same floats).
#   tests/example_check.sh EXAMPLE_BINARY WORK_DIR
# With ELM_INSTALL_FROM=BUILD_DIR and ELM_SOURCE=SOURCE_DIR it first installs BUILD_DIR into a
# prefix under WORK_DIR and builds the example against it with find_package(elmsim), as a new user
# would (EXAMPLE_BINARY is then ignored).
set -euo pipefail
example=$1 work=$2
rm -rf "$work"
mkdir -p "$work"
if [ -n "${ELM_INSTALL_FROM:-}" ]; then
  cmake --install "$ELM_INSTALL_FROM" --prefix "$work/prefix" > "$work/install.log"
  # Only the installed copy: no path of the source or build tree reaches the example's build.
  cmake -S "$ELM_SOURCE/tools/example" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXPORT_COMPILE_COMMANDS=ON > "$work/configure.log"
  cmake --build "$work/build" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
  if grep -q -e "$ELM_INSTALL_FROM/include" -e "[ I]$ELM_SOURCE " -e "$ELM_SOURCE/models" \
       "$work/build/compile_commands.json"; then
    echo "the example was compiled against the source or build tree"; exit 1
  fi
  example="$work/build/train_and_simulate"
  # The Python module is installed with the package (when the build has it) and imports from there.
  if [ -d "$ELM_INSTALL_FROM/python/elmsim" ]; then
    site="$work/prefix/lib/python3/dist-packages"
    (cd "$work" && PYTHONPATH="$site" /usr/bin/python3 -c \
      "import elmsim, sys; assert elmsim.__file__.startswith(sys.argv[1]), elmsim.__file__; print('python module', elmsim.__version__)" "$site") \
      || { echo "the installed Python module does not import"; exit 1; }
  fi
fi
out=$("$example" "$work/run")
echo "$out"
trained=$(echo "$out" | sed -n 's/^trained .* test accuracy \([0-9.]*\)$/\1/p')
simulated=$(echo "$out" | sed -n 's/^simulated .* accuracy \([0-9.]*\), trace .*/\1/p')
[ -n "$trained" ] && [ -n "$simulated" ] || { echo "unexpected output"; exit 1; }
awk -v a="$trained" 'BEGIN { exit !(a >= 0.3) }' || { echo "the example did not learn: accuracy $trained"; exit 1; }
[ "$trained" = "$simulated" ] || { echo "simulation scored $simulated, training's evaluation $trained"; exit 1; }
[ -s "$work/run/trace.h5" ] || { echo "no trace written"; exit 1; }
