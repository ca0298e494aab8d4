#!/usr/bin/env bash
# Unpacking and creating an image layer: Skiff's LayerUnpacker and
# LayerFromDirectory (driven by the hidden `skiff _layer`) beside GNU tar on
# the same data, in alternating rounds (bench/alternate.py), medians.
#
#   sudo bench/unpack-bench.sh [ROUNDS] [SOURCE_DIR]   (default 15, /usr/lib/python3)
#
# SKIFF_BIN=DIR uses a skiff already built there instead of a release build.
# Root, so that both keep file owners as a layer needs.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-15}
source=${2:-/usr/lib/python3}
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (layers keep file owners)" >&2; exit 1; }
if [ -n "${SKIFF_BIN:-}" ]; then
  bin=$SKIFF_BIN
else
  swift build -c release --static-swift-stdlib >/dev/null
  bin=$(swift build -c release --static-swift-stdlib --show-bin-path)
fi

# BENCH_TMP=/dev/shm measures on tmpfs, without the disk.
work=$(mktemp -d "${BENCH_TMP:-/tmp}/skiff-unpack-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -a "$source" "$work/data"
# One gzip layer, written by Skiff, unpacked by both.
diffid=$("$bin/skiff" _layer create "$work/data" "$work/layer.tar.gz")
echo "data: $(find "$work/data" | wc -l) entries, $(du -sh --apparent-size "$work/data" | cut -f1) ($source);" \
     "layer: $(du -h --apparent-size "$work/layer.tar.gz" | cut -f1) gzip"
# Every timed command writes into an empty $work/out.
reset="sh -c 'rm -rf $work/out && mkdir $work/out'"

echo; echo "== unpack: extraction alone"
python3 bench/alternate.py --before "$reset" "$rounds" \
  "skiff=$bin/skiff _layer unpack $work/layer.tar.gz $work/out" \
  "tar=tar xzf $work/layer.tar.gz -C $work/out"

echo; echo "== install: what a first run does (diff_id checked, extracted, renamed into place)"
python3 bench/alternate.py --before "$reset" "$rounds" \
  "skiff=$bin/skiff _layer install $work/layer.tar.gz $diffid $work/out/layer" \
  "tar=tar xzf $work/layer.tar.gz -C $work/out"

echo; echo "== create: a gzip layer from a directory"
python3 bench/alternate.py --before "$reset" "$rounds" \
  "skiff=$bin/skiff _layer create $work/data $work/out/layer.tar.gz" \
  "tar=tar czf $work/out/layer.tar.gz -C $work/data ."
