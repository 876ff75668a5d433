#!/usr/bin/env bash
# Installs what the PyTorch reference (tools/reference/elm_reference.py) and the benchmarks need:
# Debian's python3-torch (CPU build, for /usr/bin/python3) and the OpenMP OpenBLAS it runs its BLAS on
# (the pthreads variant ignores torch.set_num_threads, which would spoil thread-count comparisons),
# and BLIS, the second tuned BLAS `elmsim bench-gemm` compares elmsim's kernels with.
# Installs only what is missing; needs root or sudo. `tools/setup.sh test` installs the same torch,
# h5py and OpenBLAS for the test suite (whose [torch] tests fail without them); BLIS is only for
# `elmsim bench-gemm`.
set -euo pipefail

packages=(python3-torch libopenblas0-openmp libblis4-openmp python3-h5py)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install_bench_deps: all present (${packages[*]})"
else
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "install_bench_deps: need root or sudo to install: ${missing[*]}" >&2
        exit 1
    fi
    echo "install_bench_deps: installing ${missing[*]}"
    "${as_root[@]}" apt-get update -q
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's interpreter, not a pyenv/virtualenv python3 that may come first on PATH.
/usr/bin/python3 -c "import torch, h5py; print('install_bench_deps: torch', torch.__version__, 'h5py', h5py.__version__)"
