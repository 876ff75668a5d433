#!/usr/bin/env bash
# elmsim set-up on a fresh Debian machine: installs the Debian packages the build needs (apt-get,
# only those missing), configures with the CMake preset and builds. Then, by subcommand:
#   tools/setup.sh demo    build only the command line and the Python module (preset demo: no tests, no
#                          CUDA kernels), generate SHD-format data, train an ELM Network on SHD-Adding,
#                          evaluate it, then run the Python quick start (tools/example/quickstart.py)
#   tools/setup.sh sweep   the demo budget sweep on that data (~18 minutes on 2 cores), its fit, pictures
#   tools/setup.sh test    build and run every test (this is what .ci/run calls), the cuda backend's
#                          tests in its host emulation (when the CUDA toolkit's headers are there), and
#                          every fuzz target for 30 s (tools/fuzz.sh; clang and libFuzzer)
#   tools/setup.sh asan    build and run every test under AddressSanitizer + UBSan
#   tools/setup.sh build   install and build only
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode=${1:-build}
case "$mode" in demo|sweep|test|asan|build) ;; *) echo "usage: tools/setup.sh demo|sweep|test|asan|build" >&2; exit 2 ;; esac

# Build tools and libraries (README "Dependencies" says why each is here).
packages=(cmake ninja-build g++ pkg-config libboost-dev libtbb-dev libhdf5-dev libfmt-dev catch2
          libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libgsl-dev)
# The Python module (tools/python): pybind11 and the headers of Debian's Python, numpy.
packages+=(pybind11-dev python3-dev python3-numpy)
[ "$mode" = demo ] && packages+=(python3-matplotlib)  # the quick start's pictures
[ "$mode" = test ] && packages+=(clang libfuzzer-14-dev)  # the fuzz targets (tests/fuzz)
# What the tests run beside the engine: pytest for the module's tests, h5py as an independent reader
# of the files, matplotlib for the plotting tools, PyTorch for the float64 reference and the LSTM.
[ "$mode" = test ] && packages+=(python3-pytest python3-h5py python3-matplotlib python3-torch)
# A tuned BLAS for PyTorch (its Debian package runs on the reference BLAS otherwise, several times
# slower): the torch tests run faster, and the benchmarks' LSTM and PyTorch rows are what a user gets.
[ "$mode" = test ] && packages+=(libopenblas0-openmp)
# Open MPI: training on many processes (sim/parallel); its tests launch `mpirun` on this machine.
[ "$mode" = demo ] || packages+=(libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

jobs=$(nproc 2>/dev/null || echo 2)
preset=release
[ "$mode" = asan ] && preset=asan
[ "$mode" = demo ] && preset=demo
cmake --preset "$preset" >/dev/null
if [ "$mode" = demo ]; then
  # Only what the demo runs: the command line and the Python module.
  cmake --build --preset demo -j "$jobs" --target elmsim elm_python
else
  cmake --build --preset "$preset" -j "$jobs"
fi

case "$mode" in
  test|asan)
    ctest --preset "$preset" -j "$jobs"
    if [ "$mode" = test ]; then
      # The cuda backend's kernels on host threads (preset gpu-emulation, README "The CUDA backend"):
      # its [gpu] tests and the parity table, bit for bit against the cpu backend, without a GPU.
      if [ -f /usr/local/cuda/include/cuda_runtime_api.h ]; then
        cmake --preset gpu-emulation >/dev/null
        cmake --build --preset gpu-emulation -j "$jobs" --target elm_tests elmsim
        build/gpu-emulation/tests/elm_tests "[gpu],[parity]"
      else
        echo "setup: no CUDA headers in /usr/local/cuda: the host emulation of the cuda backend is not tested"
      fi
      # Every parser under libFuzzer for a bounded time, from the seed corpus (docs/reliability.md).
      tools/fuzz.sh all 30
    fi
    ;;
  sweep)
    bin=build/release/elmsim
    mkdir -p data/demo
    [ -f data/demo/shd_train.h5 ] || "$bin" gen-shd --out data/demo/shd_train.h5 --samples 2000 --seed 1
    [ -f data/demo/shd_test.h5 ] || "$bin" gen-shd --out data/demo/shd_test.h5 --samples 500 --seed 2
    "$bin" sweep --config configs/sweep_demo_shd_adding.toml --out runs/sweep_demo
    "$bin" fit --sweep runs/sweep_demo
    if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
      /usr/bin/python3 tools/elmsim_plot_science.py all --sweep runs/sweep_demo
    else
      echo "setup: pictures need Debian's python3-matplotlib (apt install python3-matplotlib), then:"
      echo "  /usr/bin/python3 tools/elmsim_plot_science.py all --sweep runs/sweep_demo"
    fi
    ;;
  demo)
    bin=build/demo/elmsim
    mkdir -p data/demo runs/demo
    "$bin" gen-shd --out data/demo/shd_train.h5 --samples 2000 --seed 1
    "$bin" gen-shd --out data/demo/shd_test.h5 --samples 500 --seed 2
    "$bin" info --config configs/demo_shd_adding.toml
    "$bin" train --config configs/demo_shd_adding.toml --threads 2 --out runs/demo/model.h5
    "$bin" eval --model runs/demo/model.h5 --data data/demo/shd_test.h5
    PYTHONPATH=build/demo/python /usr/bin/python3 tools/example/quickstart.py --out runs/demo
    cat <<MSG

demo done:
  data          data/demo/shd_train.h5, data/demo/shd_test.h5 (SHD layout, generated)
  model         runs/demo/model.h5 (checkpoint; resume with --resume)
  metrics       runs/demo/model.metrics.jsonl (JSON lines: train and eval events)
  config        configs/demo_shd_adding.toml
  pictures      runs/demo/quickstart.png (tools/example/quickstart.py: the model from Python)
  Python        PYTHONPATH=build/demo/python /usr/bin/python3 -c "import elmsim; help(elmsim)"
MSG
    ;;
esac
