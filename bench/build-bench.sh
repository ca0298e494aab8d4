#!/usr/bin/env bash
# `skiff build` of a 10-step Dockerfile (FROM, ENV, WORKDIR, COPY of a small
# site, ADD of a tar, RUN, LABEL, EXPOSE, USER, CMD): once cold (every step
# runs, RUN in a real container), then ROUNDS times fully cached. Prints the
# cold time and the cached median and maximum in milliseconds of wall time.
# Target: a fully cached rebuild under 100 ms.
#
#   sudo bench/build-bench.sh [ROUNDS]        (default 20)
#   BIN=.build/debug sudo -E bench/build-bench.sh   (skip the release build)
#
# Not a test: nothing here fails on a slow machine.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (RUN makes a real container)" >&2; exit 1; }
if [ -z "${BIN:-}" ]; then
  swift build -c release --static-swift-stdlib >/dev/null
  BIN=$(swift build -c release --static-swift-stdlib --show-bin-path)
fi

work=$(mktemp -d /tmp/skiff-build-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export SKIFF_ROOT="$work/root"
ctx="$work/ctx"
mkdir -p "$ctx/site/css" "$ctx/pkg"
for i in $(seq 1 50); do echo "<p>page $i</p>" > "$ctx/site/page$i.html"; done
echo "body { color: navy }" > "$ctx/site/css/site.css"
echo "data" > "$ctx/pkg/data.txt"
tar -C "$ctx" -cf "$ctx/pkg.tar" pkg
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM busybox
ENV SITE=/www
WORKDIR $SITE
COPY site/ ./
ADD pkg.tar /opt/
RUN echo "built $(date +%s)" > /www/built.txt && chmod -R a+r /www
LABEL course=skiff
EXPOSE 80
USER nobody
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
DOCKERFILE

ms() { date +%s%N; }
"$BIN/skiff" pull busybox >/dev/null
start=$(ms)
"$BIN/skiff" build -q -t bench:cold "$ctx" >/dev/null
cold=$(( ($(ms) - start) / 1000000 ))

times=()
for _ in $(seq 1 "$rounds"); do
  start=$(ms)
  "$BIN/skiff" build -t bench:cached "$ctx" > "$work/out"
  times+=($(( ($(ms) - start) / 1000000 )))
done
hits=$(grep -c -- '---> Using cache' "$work/out" || true)
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
median=${sorted[$(( ${#sorted[@]} / 2 ))]}
max=${sorted[$(( ${#sorted[@]} - 1 ))]}
echo "cold build (10 steps):        ${cold} ms"
echo "cached rebuild ($hits/9 cached): median ${median} ms, max ${max} ms over $rounds rounds"
