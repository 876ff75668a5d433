#!/usr/bin/env bash
# Writes a byte corpus for text training and benchmarks from text every Debian machine with Python has:
# the Python standard library's sources (/usr/lib/python3.11, packages libpython3.11-minimal and
# libpython3.11-stdlib; English docstrings and comments around Python code), tests left out, files in
# byte order of their paths, cut to SIZE bytes. The same Debian release gives the same bytes; the
# script prints the file's sha256 so that a run can be tied to its corpus.
#   tools/make_text_corpus.sh OUT [SIZE]      (SIZE in bytes, default 8388608 = 8 MiB)
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: tools/make_text_corpus.sh OUT [SIZE]" >&2
    exit 2
fi
out=$1
size=${2:-8388608}
if ! [[ $size =~ ^[1-9][0-9]*$ ]]; then
    echo "make_text_corpus: SIZE must be a positive whole number of bytes, got '$size'" >&2
    exit 2
fi
root=/usr/lib/python3.11
if [ ! -d "$root" ]; then
    echo "make_text_corpus: $root not found (install python3.11, Debian's libpython3.11-stdlib)" >&2
    exit 2
fi

tmp=$(mktemp "${out}.XXXXXX")
trap 'rm -f "$tmp"' EXIT
find "$root" -name '*.py' -not -path '*/test*' -not -path '*/dist-packages/*' -not -path '*/site-packages/*' \
    -print0 | LC_ALL=C sort -z | xargs -0 cat > "$tmp"
got=$(stat -c %s "$tmp")
if [ "$got" -lt "$size" ]; then
    echo "make_text_corpus: only $got bytes of text under $root, asked for $size" >&2
    exit 2
fi
truncate -s "$size" "$tmp"
chmod 644 "$tmp"
got=$size
mv "$tmp" "$out"
trap - EXIT
echo "make_text_corpus: $out: $got bytes, sha256 $(sha256sum "$out" | cut -d' ' -f1)"
