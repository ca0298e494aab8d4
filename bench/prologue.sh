# Sourced by the bench scripts: checks for root, builds Skiff in release mode
# (Swift runtime linked statically), sets $rounds, $bin and $work (a scratch
# dir removed on exit, after `bench_cleanup_extra` if the script defines it).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-200}
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (containers need namespaces and cgroups)" >&2; exit 1; }

swift build -c release --static-swift-stdlib >/dev/null
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)

work=$(mktemp -d /tmp/skiff-bench.XXXXXX)
cleanup() {
  if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra; fi
  SKIFF_ROOT="$work/skiff" "$bin/skiff" ps -aq 2>/dev/null | xargs -r "$bin/skiff" rm -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export SKIFF_ROOT="$work/skiff"
