#!/usr/bin/env bash
# The Debian/Ubuntu packages Skiff needs: C libraries it links (libarchive,
# libseccomp, readline), the busybox-static binary the offline base image is
# made from, glibc's static libc.a (libc6-dev) for the static skiff-probe, and
# the reference tools the tests and benchmarks compare with, and uidmap
# (the setuid newuidmap/newgidmap that map a rootless user's /etc/subuid range).
# `skiff` is linked statically: the static libraries of what libarchive
# uses (Package.swift's staticArchiveLibraries) come from their -dev packages.
set -euo pipefail
packages=(pkg-config libc6-dev libarchive-dev libseccomp-dev libreadline-dev busybox-static iproute2 tmux
          crun runc skopeo umoci uidmap
          nettle-dev libacl1-dev libxml2-dev libicu-dev liblzma-dev libzstd-dev liblz4-dev libbz2-dev zlib1g-dev)
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ "${SKIFF_FORCE_APT:-}" = 1 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi
