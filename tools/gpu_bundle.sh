#!/usr/bin/env bash
# Fetches the Debian packages that configuring and building elmsim needs into .gpu-bundle/debs/
# (git-ignored), for a machine that has a compiler, CMake and ninja but none of the -dev packages and no
# network: the GPU machine that tools/gpu_check.sh runs on, where the bundle is unpacked into a private
# prefix (never into /). Run it here, on Debian 12 with the packages installed (tools/setup.sh build
# installs them); it needs apt-get and network to the Debian mirror, not root.
#
#   .gpu-bundle/debs/*.deb               what the build uses: headers, .so links, CMake config files and
#                                        the shared libraries behind them, always put on the search path
#   .gpu-bundle/debs/runtime-deps/*.deb  the libraries those libraries load in turn (HDF5's curl, ssl,
#                                        ... and what they load), as found by ldd here; gpu_check.sh
#                                        uses one only where the machine has no usable copy of its own
#   .gpu-bundle/MANIFEST.txt             role, package, version, size
#
# Versions are pinned to what is installed here (dpkg-query), so the bundle builds what builds here.
# glibc, libgcc and libstdc++ are never bundled: they come with the other machine's compiler.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bundle=.gpu-bundle
debs=$bundle/debs
rtdebs=$debs/runtime-deps

# The libraries of CMakeLists.txt, tests/ and gpu/ (README "Dependencies"), with the runtime packages
# that hold the files their -dev packages link to, and the ones TBB's CMake config checks exist
# (TBBTargets-none.cmake names libtbbmalloc_proxy and libtbbbind_2_5). Boost: the headers of Asio
# (elm_serve, which the tests link).
core=(libtbb-dev libtbb12 libtbbmalloc2 libtbbbind-2-5
      libhdf5-dev libhdf5-103-1 libsz2 libaec0
      libfmt-dev libfmt9
      catch2
      libtomlplusplus-dev libtomlplusplus3
      libcli11-dev
      nlohmann-json3-dev
      libgsl-dev libgsl27 libgslcblas0
      libboost-dev libboost1.74-dev)
# Come with any C++ compiler; bundling them would shadow the other machine's newer ones.
base=(libc6 libgcc-s1 libstdc++6)

installed_version() {  # PKG -> VERSION, or nothing when PKG is not installed
  dpkg-query -W -f='${db:Status-Abbrev} ${Version}\n' "$1" 2>/dev/null | awk '$1 == "ii" { print $2; exit }'
}

missing=()
for p in "${core[@]}"; do
  [ -n "$(installed_version "$p")" ] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "gpu_bundle: not installed here: ${missing[*]} (run tools/setup.sh build first: the bundle pins the versions installed here)" >&2
  exit 1
fi

# The runtime closure: every shared library that the core packages' libraries load, mapped to the
# package that owns it here.
owner_of() {  # PATH -> package, trying the merged-/usr spellings of the path
  local path=$1 cand
  for cand in "$path" "/usr$path" "${path#/usr}"; do
    dpkg-query -S "$cand" 2>/dev/null | head -n1 | cut -d: -f1 && return 0
  done
  return 1
}
declare -A is_core=() is_base=() rt=()
for p in "${core[@]}"; do is_core[$p]=1; done
for p in "${base[@]}"; do is_base[$p]=1; done
unowned=()
for p in "${core[@]}"; do
  while IFS= read -r f; do
    if [ ! -f "$f" ] || [ -L "$f" ]; then continue; fi
    while IFS= read -r dep; do
      real=$(readlink -f "$dep")
      if ! owner=$(owner_of "$real") || [ -z "$owner" ]; then
        unowned+=("$dep (needed by $f)")
        continue
      fi
      [ -n "${is_core[$owner]:-}" ] || [ -n "${is_base[$owner]:-}" ] || rt[$owner]=1
    done < <(ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
  done < <(dpkg-query -L "$p" | grep -E '\.so(\.[0-9]+)*$' || true)
done
if ((${#unowned[@]})); then
  echo "gpu_bundle: libraries that no Debian package owns (not bundled):" >&2
  printf '  %s\n' "${unowned[@]}" >&2
fi
runtime=()
if ((${#rt[@]})); then
  mapfile -t runtime < <(printf '%s\n' "${!rt[@]}" | sort)
fi

# A clean bundle each time, so that no .deb of an older run lingers.
mkdir -p "$debs" "$rtdebs"
rm -f "$debs"/*.deb "$rtdebs"/*.deb "$bundle/MANIFEST.txt"

apt_download() {  # DIR SPEC... : apt-get download into DIR, quietly
  local dir=$1
  shift
  # apt-get drops to user _apt, which may not write here; it then downloads as root, with a warning.
  (cd "$dir" && apt-get download -qq "$@" 2>&1 | grep -v "unsandboxed as root"; exit "${PIPESTATUS[0]}")
}
have_deb() { compgen -G "$1/${2}_*.deb" >/dev/null; }  # DIR PKG
# DIR STRICT PKG... : each PKG at its installed version. A version that left the mirror (a security
# update superseded it) is taken from apt's cache if it is there; else, where STRICT is 0 (the
# runtime closure: same package, so same soname), the mirror's candidate, with a note.
fetch() {
  local dir=$1 strict=$2 p v cached specs=() failed=()
  shift 2
  for p in "$@"; do specs+=("$p=$(installed_version "$p")"); done
  apt_download "$dir" "${specs[@]}" >/dev/null 2>&1 || true  # all at once; the stragglers one by one
  for p in "$@"; do
    have_deb "$dir" "$p" && continue
    v=$(installed_version "$p")
    apt_download "$dir" "$p=$v" >/dev/null 2>&1 && have_deb "$dir" "$p" && continue
    cached=$(compgen -G "/var/cache/apt/archives/${p}_${v/:/%3a}_*.deb" | head -n1 || true)
    if [ -n "$cached" ]; then
      cp "$cached" "$dir/"
    elif [ "$strict" = 0 ] && apt_download "$dir" "$p" && have_deb "$dir" "$p"; then
      echo "gpu_bundle: note: $p $v (installed) is not on the mirror: took $(dpkg-deb -f "$(compgen -G "$dir/${p}_*.deb" | head -n1)" Version)"
    else
      failed+=("$p=$v")
    fi
  done
  if ((${#failed[@]})); then
    echo "gpu_bundle: could not download ${failed[*]} (not on the mirror at that version; apt-get update, or upgrade them here and rebuild)" >&2
    return 1
  fi
}

echo "gpu_bundle: build packages: ${core[*]}"
fetch "$debs" 1 "${core[@]}"
if ((${#runtime[@]})); then
  echo "gpu_bundle: runtime closure: ${runtime[*]}"
  fetch "$rtdebs" 0 "${runtime[@]}"
fi

# The manifest and the report.
{
  printf '# role\tpackage\tversion\tbytes\n'
  for f in "$debs"/*.deb "$rtdebs"/*.deb; do
    [ -e "$f" ] || continue
    role=build
    [ "$(dirname "$f")" = "$rtdebs" ] && role=runtime
    printf '%s\t%s\t%s\t%s\n' "$role" "$(dpkg-deb -f "$f" Package)" "$(dpkg-deb -f "$f" Version)" "$(stat -c %s "$f")"
  done
} >"$bundle/MANIFEST.txt"

echo
printf '%-8s %-24s %-28s %9s\n' role package version KiB
awk -F'\t' '!/^#/ { printf "%-8s %-24s %-28s %9.0f\n", $1, $2, $3, $4 / 1024 }' "$bundle/MANIFEST.txt"
total=$(awk -F'\t' '!/^#/ { s += $4 } END { print s + 0 }' "$bundle/MANIFEST.txt")
count=$(grep -vc '^#' "$bundle/MANIFEST.txt")
printf 'gpu_bundle: %d packages, %.1f MiB in %s (carry it: run(carry=[".gpu-bundle"]) then tools/gpu_check.sh)\n' \
  "$count" "$(awk -v t="$total" 'BEGIN { print t / 1048576 }')" "$debs"
if ((total > 50 * 1048576)); then
  echo "gpu_bundle: over 50 MiB: the device tool carries at most 64 MiB with the working tree" >&2
  exit 1
fi
