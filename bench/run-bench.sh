#!/usr/bin/env bash
# Times `skiff run --rm busybox true` side by side with crun and runc running
# the same busybox rootfs, and with the bare `unshare` floor (new pid, mount,
# uts, ipc and net namespaces, then /bin/true). Runs alternate, one of each
# per round, so that machine noise hits all of them alike.
#
#   sudo bench/run-bench.sh [ROUNDS]        (default 200)
#
# Needs root, crun, runc and python3 (scripts/deps.sh installs crun and runc).
source "$(dirname "$0")/prologue.sh"
bench_cleanup_extra() {
  for r in crun runc; do "$r" --root "$work/$r-state" list -q 2>/dev/null | xargs -r -n1 "$r" --root "$work/$r-state" delete -f >/dev/null 2>&1 || true; done
}

# One busybox rootfs for everyone: the layer Skiff unpacked from its image.
"$bin/skiff" run --rm busybox true   # builds the image and unpacks its layer
layer=$(ls -d "$SKIFF_ROOT"/layers/*/ | head -1)
for r in crun runc; do
  mkdir -p "$work/$r/rootfs" "$work/$r-state"
  cp -a "$layer/." "$work/$r/rootfs/"
  (cd "$work/$r" && "$r" spec)
  python3 - "$work/$r/config.json" <<'PY'
import json, sys
path = sys.argv[1]
spec = json.load(open(path))
spec["process"]["terminal"] = False
spec["process"]["args"] = ["true"]
json.dump(spec, open(path, "w"))
PY
done

# crun does not run on this hybrid cgroup layout while the controller-less
# cgroup2 at /sys/fs/cgroup/unified is mounted: hide it in a private mount
# namespace (for everyone, so all four run under the same conditions).
unified=""
if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then unified="umount /sys/fs/cgroup/unified;"; fi
unshare -m --propagation private sh -c "$unified exec python3 bench/alternate.py $rounds \
  'skiff=$bin/skiff run --rm busybox true' \
  'crun=crun --root $work/crun-state run -b $work/crun bench-crun' \
  'runc=runc --root $work/runc-state run -b $work/runc bench-runc' \
  'unshare=unshare --fork --pid --mount --uts --ipc --net true'"
