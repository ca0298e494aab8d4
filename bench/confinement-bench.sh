#!/usr/bin/env bash
# What confinement costs: `skiff run --rm busybox true` with Docker's defaults
# (capabilities dropped, seccomp filter loaded, /proc paths masked), with the
# seccomp filter off (--security-opt seccomp=unconfined), and with all of it
# off (--privileged). Runs alternate, one of each per round, rotating the
# order, so that machine noise hits all of them alike; alternate.py prints
# medians, p10, p90 and ratios.
#
#   sudo bench/confinement-bench.sh [ROUNDS]     (default 200)
source "$(dirname "$0")/prologue.sh"
"$bin/skiff" run --rm busybox true                          # makes the image and its layer
"$bin/skiff" run --rm busybox true                          # and the default profile's compiled filter
python3 bench/alternate.py "$rounds" \
  "confined=$bin/skiff run --rm busybox true" \
  "no-seccomp=$bin/skiff run --rm --security-opt seccomp=unconfined busybox true" \
  "privileged=$bin/skiff run --rm --privileged busybox true"
