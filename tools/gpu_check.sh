#!/usr/bin/env bash
# elmsim on the GPU machine: builds the CUDA backend and runs its tests and benchmark, on a machine that
# has g++, nvcc (/usr/local/cuda), CMake, ninja and python3 with torch, but none of the Debian -dev
# packages and no network. The libraries come from .gpu-bundle/ (made on the dev machine by
# tools/gpu_bundle.sh, carried along), unpacked into a private prefix, never into /.
#
#   device run:  carry=[".gpu-bundle"], command: bash tools/gpu_check.sh   (well inside 8 minutes)
#
# Stages, each timed: env (tools found, versions), unpack (the bundle into the prefix, and the library
# search path), configure (build/gpu, Ninja, Release, CUDA for sm_90, tests on; then a check that every
# library and header CMake found lies in the prefix), build (elm_tests and elmsim), test
# (elm_tests "[gpu],[parity]"), bench (elmsim bench-gpu), memcheck (compute-sanitizer on the case
# table, when there is time and the tool). The end: one table, stage | status | seconds; the exit
# status is non-zero when any stage failed. With $OUT set, the whole log is also $OUT/gpu_check.log.
#
# Environment (all optional):
#   ELM_GPU_PREFIX=/tmp/elm-prefix          where the bundle is unpacked
#   ELM_GPU_BUILD_DIR=build/gpu             the build folder (kept between calls on a warm machine)
#   ELM_GPU_PYTHON=...                      the python3 with torch for bench-gpu (default
#                                           /opt/torch/.venv/bin/python3, else python3 on the PATH)
#   ELM_GPU_CHECK_CLEAN=1                   remove the build folder first
#   ELM_GPU_CHECK_CONFIGURE_ONLY=1          stop after configure (for trying the configure on the dev
#                                           machine: no build, test or bench)
#   ELM_GPU_CHECK_ROOT_ONLY=1               add -DCMAKE_FIND_ROOT_PATH=<prefix> with the PACKAGE, INCLUDE
#                                           and LIBRARY modes ONLY, so CMake cannot see this machine's
#                                           /usr (the dev machine's stand-in for a machine without them)
#   ELM_GPU_CHECK_HIDE_USR=1                likewise with -DCMAKE_IGNORE_PREFIX_PATH=/usr;/ (CMake 3.23+)
#   ELM_GPU_CHECK_BUDGET=470                seconds for the whole script: build, test and bench get at
#                                           most what is left of it (and at most 330, 180, 200 s)
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
multiarch=x86_64-linux-gnu
nvcc=/usr/local/cuda/bin/nvcc

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

# ---- stage bookkeeping -------------------------------------------------------------------------
names=() statuses=() seconds=()
note=""   # a stage function may set it: the status shown instead of "FAIL (rc N)"
limit=""  # a timed stage sets it: its timeout in seconds
stage() {  # NAME FUNCTION: run it, record ok / FAIL / TIMEOUT and its seconds
  local name=$1 fn=$2 t0=$SECONDS rc status
  stamp "==> $name"
  note="" limit=""
  "$fn"
  rc=$?
  if ((rc == 0)); then status=${note:-ok}
  elif ((rc == 124 || rc == 137)) && [ -n "$limit" ]; then status="TIMEOUT (limit $limit s)"
  else status="FAIL${note:+ ($note)}"; [ -n "$note" ] || status="FAIL (rc $rc)"
  fi
  names+=("$name") statuses+=("$status") seconds+=("$((SECONDS - t0))")
  stamp "<== $name: $status ($((SECONDS - t0)) s)"
  return "$rc"
}
skip() { names+=("$1") statuses+=("skipped ($2)") seconds+=(0); stamp "--- $1: skipped ($2)"; }

finish() {
  local i failed=0
  echo
  echo "gpu_check summary ($(date '+%Y-%m-%d %H:%M:%S'), $((SECONDS - start)) s in all)"
  printf '%-10s | %-48s | %7s\n' stage status seconds
  printf '%-10s-+-%-48s-+-%7s\n' ---------- ------------------------------------------------ -------
  for i in "${!names[@]}"; do
    printf '%-10s | %-48s | %7s\n' "${names[$i]}" "${statuses[$i]}" "${seconds[$i]}"
    case ${statuses[$i]} in ok*|"skipped (configure-only)") ;; *) failed=1 ;; esac
  done
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
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1
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
    if [ "$configure_only" != 1 ]; then
      timeout 90 "$python" -c 'import torch, h5py; print("torch", torch.__version__, "cuda", torch.version.cuda, "gpu", torch.cuda.is_available(), "| h5py", h5py.__version__)' 2>&1 | tail -n3
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
    -DCMAKE_BUILD_TYPE=Release -DELM_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DELM_TESTS=ON -DELM_NATIVE=ON
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
  "$cmake" "${args[@]}" || { note="cmake configure failed"; return 1; }

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

# ---- build, test, bench ------------------------------------------------------------------------
stage_build() {
  local t
  t=$(cap 330) limit=$t
  ((t > 20)) || { note="no time left"; return 1; }
  timeout -k 10 "$t" "$cmake" --build "$build" --target elm_tests elmsim -j "$(nproc)"
}

stage_test() {
  local t bin=$build/tests/elm_tests count
  [ -x "$bin" ] || { note="$bin missing"; return 1; }
  count=$(timeout 30 "$bin" "[gpu]" --list-test-names-only 2>/dev/null | grep -c . || true)
  echo "tests tagged [gpu]: $count"
  ((count > 0)) || { note="no test tagged [gpu]"; return 1; }
  t=$(cap 180) limit=$t
  ((t > 10)) || { note="no time left"; return 1; }
  # [gpu]: the cuda backend against the cpu backend; [parity]: every backend against the float64 reference
  timeout -k 10 "$t" "$bin" "[gpu],[parity]" --durations yes
}

stage_memcheck() {  # compute-sanitizer over the case table (out-of-bounds accesses, races in the blocks)
  local t bin=$build/tests/elm_tests san
  san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  [ -x "$san" ] || { note="skipped: no compute-sanitizer"; return 0; }
  t=$(cap 90) limit=$t
  ((t > 20)) || { note="skipped: no time left"; return 0; }
  timeout -k 10 "$t" "$san" --tool memcheck --error-exitcode 3 "$bin" "cuda: every backend case*" &&
    timeout -k 10 "$(cap 60)" "$san" --tool racecheck --error-exitcode 3 "$bin" "cuda: optimizer steps*"
}

stage_bench() {
  local t bin=$build/elmsim
  [ -x "$bin" ] || { note="$bin missing"; return 1; }
  t=$(cap 200) limit=$t
  ((t > 10)) || { note="no time left"; return 1; }
  timeout -k 10 "$t" "$bin" bench-gpu --python "$prefix/bin/python3" | tee "${OUT:-/tmp}/bench_gpu.txt"
}

# ---- the run -----------------------------------------------------------------------------------
stamp "gpu_check: $repo, prefix $prefix, build $build$([ "$configure_only" = 1 ] && echo ", configure only")"
if stage env stage_env && stage unpack stage_unpack && stage configure stage_configure; then
  if [ "$configure_only" = 1 ]; then
    skip build configure-only; skip test configure-only; skip bench configure-only; skip memcheck configure-only
  elif stage build stage_build; then
    stage test stage_test
    stage bench stage_bench
    stage memcheck stage_memcheck
  else
    skip test "build failed"; skip bench "build failed"; skip memcheck "build failed"
  fi
else
  for s in env unpack configure build test bench memcheck; do
    case " ${names[*]} " in *" $s "*) ;; *) skip "$s" "an earlier stage failed" ;; esac
  done
fi
finish
