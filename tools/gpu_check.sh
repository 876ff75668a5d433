#!/usr/bin/env bash
# elmsim on the GPU machine: checks the device, builds the CUDA backend and runs its tests, the compute
# sanitizers, a quick benchmark and the CPU-vs-GPU ulp table, on a machine that has g++, nvcc
# (/usr/local/cuda), CMake, ninja and python3 with torch, but none of the Debian -dev packages and no
# network. The libraries come from .gpu-bundle/ (made on the dev machine by tools/gpu_bundle.sh,
# carried along), unpacked into a private prefix, never into /.
#
#   device run:  carry=[".gpu-bundle"], timeout_s=540, command: bash tools/gpu_check.sh
#
# Stages, each with its own time budget in seconds (at most what is left of ELM_GPU_CHECK_BUDGET), a
# header, its elapsed time, and a line in the summary table at the end:
#   env        20  tools found, versions, nvidia-smi
#   device     30  gpu/checks/device_probe.cu built with nvcc and run: driver against runtime version,
#                  the devices, a kernel for sm_$arch launched and checked. A failure here ends the run
#                  at once with one line "gpu_check: FAIL: no usable CUDA device: ..." and exit status 2.
#   unpack     20  the bundle into the prefix, and the library search path
#   configure  30  build/gpu, Ninja, Release, CUDA for sm_$arch, tests on; every dependency from the prefix
#   build     170  elm_tests and elmsim (ninja: only what changed, on a warm machine)
#   test       45  elm_tests "[gpu]~[ulp],[parity]" with ELM_CUDA_SYNC_LAUNCHES=1 (a fault names its kernel)
#   memcheck   30  compute-sanitizer memcheck with the leak check, on the workload below
#   racecheck  30  compute-sanitizer racecheck (shared-memory hazards of the reductions)
#   initcheck  25  compute-sanitizer initcheck (reads of device memory never written: cudaMalloc does not
#                  zero it, and the emulation's malloc hides such reads from the CPU-side tests)
#   bench      40  elmsim bench-gpu --quick --no-torch (six rows at T = 100, kernel launches per step)
#   ulp        15  elm_tests "[ulp]": the CPU-vs-GPU table in ulps per tensor, each within its bound
# The budgets sum to 455 s, under 8 minutes of device time. The sanitizers' workload is
# elm_tests "[ulp],cuda: optimizer steps*": every case of the backend table (ELM, LIF, spike, event
# schedule, byte embedding, recomputation, and B = 130 across two blocks) through one training step,
# an inference step and 20 streaming updates, then SGD, Adam and Adamax updates: every kernel of gpu/.
# A failed stage does not stop the later ones that do not need it (only a failed build skips those
# that run its binaries); the exit status is 0 when every stage passed, 2 when no device is usable, 1
# otherwise. With $OUT set, the whole log is $OUT/gpu_check.log, the bench table $OUT/bench_gpu.txt and
# the ulp table $OUT/ulp_table.txt.
#
# Environment (all optional):
#   ELM_GPU_PREFIX=/tmp/elm-prefix          where the bundle is unpacked
#   ELM_GPU_BUILD_DIR=build/gpu             the build folder (kept between calls on a warm machine)
#   ELM_GPU_ARCH=90                         the compute capability built for (and required of device 0)
#   ELM_GPU_PYTHON=...                      the python3 with torch for bench-gpu (default
#                                           /opt/torch/.venv/bin/python3, else python3 on the PATH)
#   ELM_GPU_CHECK_CLEAN=1                   remove the build folder first
#   ELM_GPU_CHECK_CONFIGURE_ONLY=1          stop after configure (for trying the configure on the dev
#                                           machine: no build, test or bench; a failed device stage is
#                                           reported there, not fatal)
#   ELM_GPU_CHECK_ROOT_ONLY=1               add -DCMAKE_FIND_ROOT_PATH=<prefix> with the PACKAGE, INCLUDE
#                                           and LIBRARY modes ONLY, so CMake cannot see this machine's
#                                           /usr (the dev machine's stand-in for a machine without them)
#   ELM_GPU_CHECK_HIDE_USR=1                likewise with -DCMAKE_IGNORE_PREFIX_PATH=/usr;/ (CMake 3.23+)
#   ELM_GPU_CHECK_BUDGET=470                seconds for the whole script; no stage runs past it
#   ELM_GPU_CHECK_<STAGE>_S=N               one stage's budget instead of the table's (BUILD_S=300, ...)
#   ELM_GPU_CHECK_STAGES="test ulp"         run only these of build..ulp (env, device, unpack and
#                                           configure always run; build also when its binaries are missing)
#   ELM_GPU_CHECK_BENCH_ARGS="..."          bench-gpu's arguments (default "--quick --no-torch"; "" and
#                                           ELM_GPU_CHECK_BENCH_S=300 give the full table with torch)
# shellcheck disable=SC2317  # the stage functions are called through stage()
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
repo=$(pwd)

prefix=${ELM_GPU_PREFIX:-/tmp/elm-prefix}
build=${ELM_GPU_BUILD_DIR:-build/gpu}
bundle=$repo/.gpu-bundle
configure_only=${ELM_GPU_CHECK_CONFIGURE_ONLY:-0}
root_only=${ELM_GPU_CHECK_ROOT_ONLY:-0}
hide_usr=${ELM_GPU_CHECK_HIDE_USR:-0}
budget=${ELM_GPU_CHECK_BUDGET:-470}
arch=${ELM_GPU_ARCH:-90}
only=${ELM_GPU_CHECK_STAGES:-}
bench_args=${ELM_GPU_CHECK_BENCH_ARGS---quick --no-torch}
multiarch=x86_64-linux-gnu
nvcc=/usr/local/cuda/bin/nvcc
probe_dir=${TMPDIR:-/tmp}/elm-gpu-probe
# The sanitizers' workload (see the header).
workload=("[ulp],cuda: optimizer steps*")

if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
  : >"$OUT/gpu_check.log"
  exec > >(tee -a "$OUT/gpu_check.log") 2>&1
  tee_pid=$!
fi

start=$SECONDS
stamp() { printf '[%s +%3ds] %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$((SECONDS - start))" "$*"; }
left() { echo $((budget - (SECONDS - start))); }
cap() { local l; l=$(left); ((l < $1)) && echo "$l" || echo "$1"; }  # CAP -> min(CAP, time left)
budget_of() {  # STAGE DEFAULT -> $ELM_GPU_CHECK_<STAGE>_S or DEFAULT
  local v="ELM_GPU_CHECK_${1^^}_S"
  echo "${!v:-$2}"
}
wanted() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }  # STAGE: asked for by ELM_GPU_CHECK_STAGES

# ---- stage bookkeeping -------------------------------------------------------------------------
names=() statuses=() seconds=() budgets=()
note=""   # a stage function may set it: the status shown instead of "FAIL (rc N)"
limit=""  # the stage's time limit in seconds (its budget, or what is left): its timed commands use it
stage() {  # NAME FUNCTION BUDGET: run it, record ok / FAIL / TIMEOUT and its seconds
  local name=$1 fn=$2 b t0=$SECONDS rc status
  b=$(budget_of "$name" "$3")
  note="" limit=$(cap "$b")
  stamp "==> $name (budget $b s$( ((limit < b)) && echo ", $limit s left"))"
  if ((limit < 3)); then
    rc=1 note="no time left"
  else
    "$fn"
    rc=$?
  fi
  if ((rc == 0)); then status=${note:-ok}
  elif ((rc == 124 || rc == 137)); then status="TIMEOUT (limit $limit s)"
  else status="FAIL${note:+ ($note)}"; [ -n "$note" ] || status="FAIL (rc $rc)"
  fi
  ((rc == 0 && SECONDS - t0 > b)) && status="$status, over its budget"
  names+=("$name") statuses+=("$status") seconds+=("$((SECONDS - t0))") budgets+=("$b")
  stamp "<== $name: $status ($((SECONDS - t0)) s of $b)"
  return "$rc"
}
skip() { names+=("$1") statuses+=("skipped ($2)") seconds+=(0) budgets+=(-); stamp "--- $1: skipped ($2)"; }

finish() {  # [EXIT]: the summary; exits EXIT if given, else 1 when a stage failed, else 0
  local i failed=0
  echo
  echo "gpu_check summary ($(date '+%Y-%m-%d %H:%M:%S'), $((SECONDS - start)) s in all, budget $budget s)"
  printf '%-10s | %6s | %-56s | %7s\n' stage budget status seconds
  printf '%-10s-+-%6s-+-%-56s-+-%7s\n' ---------- ------ -------------------------------------------------------- -------
  for i in "${!names[@]}"; do
    printf '%-10s | %6s | %-56s | %7s\n' "${names[$i]}" "${budgets[$i]}" "${statuses[$i]}" "${seconds[$i]}"
    case ${statuses[$i]} in
      ok* | "skipped (configure-only)" | "skipped (not in ELM_GPU_CHECK_STAGES)" | *"(ignored: configure-only)") ;;
      *) failed=1 ;;
    esac
  done
  [ -n "${1:-}" ] && failed=$1
  ((failed)) && echo "gpu_check: FAILED" || echo "gpu_check: all stages passed"
  [ -n "${OUT:-}" ] && echo "gpu_check: log in \$OUT/gpu_check.log"
  if [ -n "${tee_pid:-}" ]; then  # let tee write the last lines before the exit
    exec 1>&- 2>&-
    wait "$tee_pid" 2>/dev/null
  fi
  exit "$failed"
}

# ---- env: the tools ----------------------------------------------------------------------------
find_tool() {  # NAME PYMODULE PYATTR: an executable NAME: on the PATH, else beside a pip package
  local name=$1 mod=$2 attr=$3 py dir
  command -v "$name" 2>/dev/null && return 0
  for py in "${python:-}" /opt/torch/.venv/bin/python3 python3; do
    if [ -z "$py" ] || ! command -v "$py" >/dev/null 2>&1; then continue; fi
    dir=$("$py" -c "import $mod; print($mod.$attr)" 2>/dev/null) || continue
    [ -x "$dir/$name" ] && { echo "$dir/$name"; return 0; }
  done
  for dir in /opt/torch/.venv/bin /usr/local/bin; do
    [ -x "$dir/$name" ] && { echo "$dir/$name"; return 0; }
  done
  return 1
}

stage_env() {
  local bad=()
  # shellcheck disable=SC1091
  echo "host: $(uname -srm); $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"); $(nproc) cores"
  echo "glibc: $(ldd --version 2>/dev/null | head -n1)"
  if command -v nvidia-smi >/dev/null 2>&1; then
    timeout 15 nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,ecc.mode.current --format=csv,noheader 2>&1
    timeout 15 nvidia-smi 2>&1 | grep -m1 -o 'CUDA Version: [0-9.]*' | sed 's/^/driver supports: /'
  else
    echo "nvidia-smi: not found"
  fi
  python=${ELM_GPU_PYTHON:-}
  if [ -z "$python" ]; then
    if [ -x /opt/torch/.venv/bin/python3 ]; then python=/opt/torch/.venv/bin/python3
    else python=$(command -v python3 || true)
    fi
  fi
  cmake=$(find_tool cmake cmake CMAKE_BIN_DIR) || { cmake=""; bad+=(cmake); }
  ninja=$(find_tool ninja ninja BIN_DIR) || { ninja=""; bad+=(ninja); }
  echo "cmake: ${cmake:-NOT FOUND}${cmake:+ ($("$cmake" --version | head -n1))}"
  echo "ninja: ${ninja:-NOT FOUND}${ninja:+ ($("$ninja" --version))}"
  if command -v g++ >/dev/null 2>&1; then
    echo "g++: $(command -v g++)"; g++ --version | head -n1
  else
    echo "g++: NOT FOUND"; bad+=(g++)
  fi
  if [ -x "$nvcc" ]; then
    echo "nvcc: $nvcc"; "$nvcc" --version | tail -n2
  else
    echo "nvcc: NOT FOUND at $nvcc"; bad+=(nvcc)
  fi
  if [ -n "$python" ] && [ -x "$python" ]; then
    echo "python: $python ($("$python" --version 2>&1))"
    if [ "$configure_only" != 1 ] && [[ " $bench_args " != *" --no-torch "* ]]; then
      timeout 30 "$python" -c 'import torch, h5py; print("torch", torch.__version__, "cuda", torch.version.cuda, "gpu", torch.cuda.is_available(), "| h5py", h5py.__version__)' 2>&1 | tail -n3
    fi
  else
    echo "python: NOT FOUND (bench-gpu will fail)"
  fi
  echo "LD_LIBRARY_PATH (as found): ${LD_LIBRARY_PATH:-<unset>}"
  if ((${#bad[@]})); then note="missing: ${bad[*]}"; return 1; fi
}

# ---- unpack: the bundle into the prefix, and the library search path ---------------------------
extract_deb() {  # DEB DEST: dpkg -x, or ar + tar where dpkg is missing
  if command -v dpkg-deb >/dev/null 2>&1; then
    dpkg-deb -x "$1" "$2"
  else
    local tmp rc
    tmp=$(mktemp -d) || return 1
    (cd "$tmp" && ar x "$1" && tar -xf data.tar.* -C "$2")
    rc=$?
    rm -rf "$tmp"
    return "$rc"
  fi
}

# Sonames the dynamic loader cannot load for the given libraries: missing ones, ones without a symbol
# version asked for, ones that fail to load. One soname a line.
unresolved() {
  ldd "$@" 2>&1 | sed -n \
    -e 's/^[[:space:]]*\([^[:space:]]*\) => not found.*/\1/p' \
    -e "s/.*: \\([^: ]*\\): version \`.*' not found.*/\\1/p" \
    -e 's/.*error while loading shared libraries: \([^:]*\):.*/\1/p' |
    sed 's|.*/||' | sort -u
}

stage_unpack() {
  local f n=0 stamp_file="$prefix/.elm-prefix" want so found fixed
  if ! compgen -G "$bundle/debs/*.deb" >/dev/null; then
    echo "gpu_check: no bundle: .gpu-bundle/debs/*.deb is missing. Run tools/gpu_bundle.sh on the dev machine first, then carry .gpu-bundle (run(carry=[\".gpu-bundle\"]))."
    note="no .gpu-bundle: run tools/gpu_bundle.sh first"
    return 1
  fi
  case $prefix in /?*/?*) ;; *) note="ELM_GPU_PREFIX=$prefix: want a private folder such as /tmp/elm-prefix"; return 1 ;; esac
  want=$(cat "$bundle/MANIFEST.txt" "$bundle"/debs/*.deb "$bundle"/debs/runtime-deps/*.deb 2>/dev/null | cksum)
  if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want" ]; then
    echo "prefix $prefix already holds this bundle"
  else
    if [ -e "$prefix" ] && [ ! -f "$stamp_file" ] && [ -n "$(ls -A "$prefix" 2>/dev/null)" ]; then
      note="$prefix exists and is not ours (no .elm-prefix): not touching it"
      return 1
    fi
    rm -rf "$prefix"
    mkdir -p "$prefix/rt" || return 1
    for f in "$bundle"/debs/*.deb; do
      extract_deb "$f" "$prefix" || { note="unpacking $(basename "$f") failed"; return 1; }
      n=$((n + 1))
    done
    for f in "$bundle"/debs/runtime-deps/*.deb; do
      [ -e "$f" ] || continue
      extract_deb "$f" "$prefix/rt" || { note="unpacking $(basename "$f") failed"; return 1; }
      n=$((n + 1))
    done
    # Absolute symbolic links would point into this machine's /: make them point into the prefix.
    fixed=0
    while IFS= read -r -d '' f; do
      ln -sfn "$prefix$(readlink "$f")" "$f" && fixed=$((fixed + 1))
    done < <(find "$prefix" -type l -lname '/*' -print0)
    # pkg-config files and gsl-config name /usr: name the prefix (the configure uses neither for
    # paths, but whatever reads them then gets the right ones).
    for f in "$prefix/usr/lib/$multiarch"/pkgconfig/*.pc "$prefix"/usr/share/pkgconfig/*.pc "$prefix"/usr/bin/gsl-config; do
      [ -f "$f" ] && sed -i -e "s|=/usr\\b|=$prefix/usr|g" -e "s|-I/usr/|-I$prefix/usr/|g" -e "s|-L/usr/|-L$prefix/usr/|g" "$f"
    done
    echo "$want" >"$stamp_file"
    echo "unpacked $n packages into $prefix ($(du -sh "$prefix" | cut -f1)); $fixed absolute links re-pointed"
  fi
  # CMake config files that name absolute /usr paths (other than in the "/usr move" check of
  # configure_package_config_file, which only compares): each would point outside the prefix.
  if grep -rnE '"/usr/[^"]*"' "$prefix/usr/lib/$multiarch/cmake" "$prefix"/usr/lib/cmake "$prefix"/usr/share/cmake 2>/dev/null |
      grep -vE '_realOrig|set\((_IMPORT_PREFIX|PACKAGE_PREFIX_DIR) "/usr'; then
    echo "gpu_check: warning: the CMake config files above name /usr paths"
  fi

  # The library search path: the bundle's own libraries always (they match its headers); a library
  # of the runtime closure (HDF5's curl, ssl, ...) only where this machine has no copy it can load,
  # so that nothing here (nvcc, python, torch) gets an older copy of a library it has.
  libdir=$prefix/usr/lib/$multiarch
  extra=$prefix/ld-extra
  rm -rf "$extra"
  mkdir -p "$extra"
  orig_ld=${LD_LIBRARY_PATH:-}
  export LD_LIBRARY_PATH="$libdir:$extra${orig_ld:+:$orig_ld}"
  mapfile -t libs < <(find "$libdir" -maxdepth 1 -type f -name '*.so.*' | sort)
  if ! command -v ldd >/dev/null 2>&1; then
    echo "gpu_check: no ldd here: using every library of the runtime closure"
    find "$prefix/rt" -name '*.so.*' \( -type f -o -type l \) -exec ln -sfn {} "$extra/" \;
  else
    for _ in $(seq 30); do  # each round adds what the last one's libraries need
      mapfile -t have < <(find "$extra" -mindepth 1 -maxdepth 1)
      mapfile -t missing < <(unresolved "${libs[@]}" "${have[@]}")
      ((${#missing[@]})) || break
      found=0
      for so in "${missing[@]}"; do
        [ -e "$extra/$so" ] && continue  # ours is there already and still fails: reported below
        for f in "$prefix/rt/usr/lib/$multiarch/$so" "$prefix/rt/lib/$multiarch/$so"; do
          if [ -e "$f" ]; then ln -sfn "$f" "$extra/$so"; found=1; break; fi
        done
      done
      ((found)) || break
    done
    mapfile -t have < <(find "$extra" -mindepth 1 -maxdepth 1)
    mapfile -t missing < <(unresolved "${libs[@]}" "${have[@]}")
    if ((${#missing[@]})); then
      ldd "${libs[@]}" 2>&1 | grep -E 'not found|error' | sort -u
      note="libraries nothing provides: ${missing[*]}"
      return 1
    fi
  fi
  echo "runtime libraries from the bundle (this machine lacks them): $(find "$extra" -mindepth 1 -printf '%f ')"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  # bench-gpu starts python: give it this machine's own library path, not the bundle's.
  mkdir -p "$prefix/bin"
  printf '#!/bin/sh\n# python for elmsim bench-gpu, without the bundle on its library path\n%s\nexec %q "$@"\n' \
    "$( [ -n "$orig_ld" ] && printf 'export LD_LIBRARY_PATH=%q' "$orig_ld" || echo 'unset LD_LIBRARY_PATH')" \
    "${python:-python3}" >"$prefix/bin/python3"
  chmod +x "$prefix/bin/python3"
}

# ---- configure ---------------------------------------------------------------------------------
stage_configure() {
  local P=$prefix/usr hdf5=$prefix/usr/lib/$multiarch/hdf5/serial args cache bad pkgs bundle_libs cuda_root
  # A build folder of an earlier call (a warm machine keeps it) is reused: ninja then rebuilds only
  # what changed. Not when asked, nor when another generator, source or prefix made it.
  cache=$build/CMakeCache.txt
  if [ -f "$cache" ]; then
    if [ "${ELM_GPU_CHECK_CLEAN:-0}" = 1 ] || ! grep -qx 'CMAKE_GENERATOR:INTERNAL=Ninja' "$cache" ||
       ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$repo" "$cache" || ! grep -qE "^HDF5_ROOT:[A-Z]*=$hdf5\$" "$cache"; then
      echo "removing $build (asked to, or made by another generator, source or prefix)"
      rm -rf "$build"
    else
      echo "reusing $build"
    fi
  fi
  args=(-S "$repo" -B "$build" -G Ninja
    -DCMAKE_BUILD_TYPE=Release -DELM_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" -DELM_TESTS=ON -DELM_NATIVE=ON
    -DCMAKE_CUDA_COMPILER="$nvcc"
    -DCMAKE_MAKE_PROGRAM="$ninja"
    # Config-file packages (TBB, fmt, tomlplusplus, Catch2, CLI11, nlohmann_json): their files compute
    # their own prefix from where they lie, so they work relocated; the _DIR hints make the choice sure.
    "-DCMAKE_PREFIX_PATH=$P;$P/lib/$multiarch/cmake;$P/lib/cmake;$P/share/cmake"
    -DTBB_DIR="$P/lib/$multiarch/cmake/TBB"
    -Dfmt_DIR="$P/lib/$multiarch/cmake/fmt"
    -Dtomlplusplus_DIR="$P/lib/$multiarch/cmake/tomlplusplus"
    -DCatch2_DIR="$P/lib/cmake/Catch2"
    -DCLI11_DIR="$P/share/cmake/CLI11"
    -Dnlohmann_json_DIR="$P/share/cmake/nlohmann_json"
    # FindHDF5: Debian's route is the h5cc wrapper (not bundled; it would print /usr paths): instead
    # HDF5_ROOT at the serial folder (lib -> ., include -> the headers), which FindHDF5 searches with
    # NO_DEFAULT_PATH, no config-file search, and the cache entries its manual search fills.
    -DHDF5_ROOT="$hdf5"
    -DHDF5_NO_FIND_PACKAGE_CONFIG_FILE=ON -DHDF5_PREFER_PARALLEL=OFF
    -DHDF5_C_INCLUDE_DIR:PATH="$P/include/hdf5/serial"
    -DHDF5_hdf5_LIBRARY_RELEASE:FILEPATH="$hdf5/libhdf5.so"
    # FindGSL: GSL_ROOT_DIR (so no pkg-config), and the libraries in the multiarch folder.
    -DGSL_ROOT_DIR="$P"
    -DGSL_INCLUDE_DIR:PATH="$P/include"
    -DGSL_LIBRARY:FILEPATH="$P/lib/$multiarch/libgsl.so"
    -DGSL_CBLAS_LIBRARY:FILEPATH="$P/lib/$multiarch/libgslcblas.so")
  if [ "$root_only" = 1 ]; then
    # The CUDA toolkit is a root too: gpu/ finds CUDAToolkit (cudart) there.
    cuda_root=$(dirname "$(dirname "$(readlink -f "$nvcc")")")
    args+=("-DCMAKE_FIND_ROOT_PATH=$prefix;$cuda_root" -DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=ONLY
           -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY)
  fi
  [ "$hide_usr" = 1 ] && args+=("-DCMAKE_IGNORE_PREFIX_PATH=/usr;/")
  # CMake 4 refuses config files that ask for policies of CMake < 3.5 (none in this bundle does;
  # harmless, should another).
  [ "$("$cmake" --version | sed -n 's/^cmake version \([0-9]*\).*/\1/p')" -ge 4 ] 2>/dev/null &&
    args+=(-DCMAKE_POLICY_VERSION_MINIMUM=3.5)
  printf 'cmake'; printf ' %q' "${args[@]}"; echo
  timeout -k 5 "$limit" "$cmake" "${args[@]}" || { local rc=$?; note="cmake configure failed"; return "$rc"; }

  # Everything found must come from the prefix: the cache's paths of our packages, and in build.ninja
  # no header folder under /usr/include and none of the bundle's libraries under /usr/lib (system
  # libraries there are fine: CUDA::cudart_static links /usr/lib/.../librt.a, say).
  pkgs='^(TBB|fmt|tomlplusplus|Catch2|CLI11|nlohmann_json|HDF5|GSL)[A-Za-z0-9_]*:(PATH|FILEPATH|UNINITIALIZED)='
  bundle_libs='lib(tbb|fmt|hdf5|tomlplusplus|gsl|sz|aec|Catch2)[^/]*$'
  echo "found (CMakeCache.txt):"
  grep -E "$pkgs" "$cache" | grep -E '=/' | sed 's/^/  /'
  bad=$( { grep -E "$pkgs" "$cache" | grep -E '=/' | grep -vE "=$prefix(/|\$)"
           grep -ohE '/[^ "=:;,$]+' "$build/build.ninja" | grep -E "^/usr/include(/|\$)|^/usr/lib/.*/$bundle_libs" | sort -u; } )
  if [ -n "$bad" ]; then
    echo "gpu_check: found outside $prefix:"
    # shellcheck disable=SC2001
    sed "s/^/  /" <<<"$bad"
    note="dependencies found outside the prefix"
    return 1
  fi
  echo "every dependency path in CMakeCache.txt and build.ninja is under $prefix"
}

# ---- device: can this machine run the backend at all? -----------------------------------------
device_reason=""
stage_device() {
  local out rc
  [ -x "$nvcc" ] || { device_reason="nvcc not found at $nvcc"; note=$device_reason; return 1; }
  mkdir -p "$probe_dir" || return 1
  if [ ! -x "$probe_dir/device_probe" ] || [ "$repo/gpu/checks/device_probe.cu" -nt "$probe_dir/device_probe" ] ||
     [ "$(cat "$probe_dir/arch" 2>/dev/null)" != "$arch" ]; then
    echo "building the probe: $nvcc -O2 -arch=sm_$arch gpu/checks/device_probe.cu"
    timeout -k 5 "$limit" "$nvcc" -O2 -arch="sm_$arch" -o "$probe_dir/device_probe" "$repo/gpu/checks/device_probe.cu" || {
      rc=$?; device_reason="the device probe did not build (nvcc, rc $rc)"; note=$device_reason; return "$rc"; }
    echo "$arch" >"$probe_dir/arch"
  fi
  out=$(timeout -k 5 "$(cap 20)" "$probe_dir/device_probe" "$arch" 2>&1)
  rc=$?
  echo "$out"
  ((rc == 0)) && return 0
  device_reason=$(grep -m1 'device_probe: FAIL:' <<<"$out" | sed 's/^device_probe: FAIL: //')
  ((rc == 124 || rc == 137)) && device_reason="the device probe hung (over $(cap 20) s): the driver or device does not answer"
  [ -n "$device_reason" ] || device_reason="the device probe failed (rc $rc)"
  note=$device_reason
  return 1
}

# ---- build, test, sanitizers, bench, ulp -------------------------------------------------------
bin_tests() { echo "$build/tests/elm_tests"; }

stage_build() {
  timeout -k 10 "$limit" "$cmake" --build "$build" --target elm_tests elmsim -j "$(nproc)"
}

stage_test() {
  local bin count
  bin=$(bin_tests)
  [ -x "$bin" ] || { note="$bin missing"; return 1; }
  count=$(timeout 30 "$bin" "[gpu]" --list-test-names-only 2>/dev/null | grep -c . || true)
  echo "tests tagged [gpu]: $count"
  ((count > 0)) || { note="no test tagged [gpu]"; return 1; }
  # [gpu]: the cuda backend against the cpu backend ([ulp] has its own stage); [parity]: every backend
  # against the float64 reference. Each launch waits for the device, so a fault names its kernel.
  ELM_CUDA_SYNC_LAUNCHES=1 timeout -k 10 "$limit" "$bin" "[gpu]~[ulp],[parity]" --durations yes
}

sanitizer() {  # TOOL ARGS...: compute-sanitizer --tool TOOL on the workload
  local tool=$1 san bin
  shift
  bin=$(bin_tests)
  [ -x "$bin" ] || { note="$bin missing"; return 1; }
  san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  [ -x "$san" ] || { note="no compute-sanitizer (looked on the PATH and in /usr/local/cuda/bin)"; return 1; }
  echo "$san --tool $tool $* --error-exitcode 3 $bin \"${workload[*]}\""
  timeout -k 10 "$limit" "$san" --tool "$tool" "$@" --error-exitcode 3 --print-limit 25 "$bin" "${workload[@]}"
}
stage_memcheck() { sanitizer memcheck --leak-check full; }
stage_racecheck() { sanitizer racecheck; }
stage_initcheck() { sanitizer initcheck; }

stage_bench() {
  local bin=$build/elmsim args
  [ -x "$bin" ] || { note="$bin missing"; return 1; }
  read -r -a args <<<"$bench_args"
  [[ " $bench_args " == *" --no-torch "* ]] || args+=(--python "$prefix/bin/python3")
  echo "$bin bench-gpu ${args[*]}"
  timeout -k 10 "$limit" "$bin" bench-gpu "${args[@]}" | tee "${OUT:-/tmp}/bench_gpu.txt"
  return "${PIPESTATUS[0]}"
}

stage_ulp() {
  local bin
  bin=$(bin_tests)
  [ -x "$bin" ] || { note="$bin missing"; return 1; }
  timeout -k 10 "$limit" "$bin" "[ulp]" | tee "${OUT:-/tmp}/ulp_table.txt"
  return "${PIPESTATUS[0]}"
}

# ---- the run -----------------------------------------------------------------------------------
stamp "gpu_check: $repo, prefix $prefix, build $build, sm_$arch$([ "$configure_only" = 1 ] && echo ", configure only")"
stage env stage_env 20
env_rc=$?
if ! stage device stage_device 30; then
  if [ "$configure_only" = 1 ]; then
    statuses[-1]="${statuses[-1]} (ignored: configure-only)"
  else
    echo "gpu_check: FAIL: no usable CUDA device: $device_reason"
    for s in unpack configure build test memcheck racecheck initcheck bench ulp; do skip "$s" "no usable device"; done
    finish 2
  fi
fi
late=(test memcheck racecheck initcheck bench ulp)
late_budget=(45 30 30 25 40 15)
if ((env_rc == 0)) && stage unpack stage_unpack 20 && stage configure stage_configure 30; then
  if [ "$configure_only" = 1 ]; then
    for s in build "${late[@]}"; do skip "$s" configure-only; done
  elif { ! wanted build && [ -x "$(bin_tests)" ] && [ -x "$build/elmsim" ] && skip build "not in ELM_GPU_CHECK_STAGES"; } ||
       stage build stage_build 170; then
    for i in "${!late[@]}"; do
      if wanted "${late[$i]}"; then stage "${late[$i]}" "stage_${late[$i]}" "${late_budget[$i]}"
      else skip "${late[$i]}" "not in ELM_GPU_CHECK_STAGES"
      fi
    done
  else
    for s in "${late[@]}"; do skip "$s" "build failed"; done
  fi
else
  for s in env unpack configure build "${late[@]}"; do
    case " ${names[*]} " in *" $s "*) ;; *) skip "$s" "an earlier stage failed" ;; esac
  done
fi
finish
