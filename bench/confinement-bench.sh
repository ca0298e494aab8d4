#!/usr/bin/env bash
# What confinement costs: `skiff run --rm busybox true` with Docker's defaults
# (capabilities dropped, seccomp filter loaded, /proc paths masked), with the
# seccomp filter off (--security-opt seccomp=unconfined), and with all of it
# off (--privileged). Runs alternate, one of each per round, rotating the
# order, so that machine noise hits all of them alike; alternate.py prints
# medians, p10, p90 and ratios.
#
#   sudo bench/confinement-bench.sh [ROUNDS]     (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-200}
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (containers need namespaces and cgroups)" >&2; exit 1; }

swift build -c release --static-swift-stdlib >/dev/null
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)

work=$(mktemp -d /tmp/skiff-bench.XXXXXX)
cleanup() {
  SKIFF_ROOT="$work/skiff" "$bin/skiff" ps -aq 2>/dev/null | xargs -r "$bin/skiff" rm -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

export SKIFF_ROOT="$work/skiff"
"$bin/skiff" run --rm busybox true                          # makes the image and its layer
"$bin/skiff" run --rm busybox true                          # and the default profile's compiled filter
python3 bench/alternate.py "$rounds" \
  "confined=$bin/skiff run --rm busybox true" \
  "no-seccomp=$bin/skiff run --rm --security-opt seccomp=unconfined busybox true" \
  "privileged=$bin/skiff run --rm --privileged busybox true"
