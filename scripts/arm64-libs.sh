#!/usr/bin/env bash
# The aarch64 build's libraries beyond the C library (elfutils' libdw and
# libelf, libunwind, jansson, zlib and what they need), and the programs
# its tests run under reheap besides their own (a shell, true, cat, sort),
# taken from Debian's arm64 archive and unpacked into one folder, the way
# the cross C library sits in /usr/aarch64-linux-gnu: the machine's dpkg
# is not told of a second architecture, so nothing it has installed
# changes. apt reads the machine's own sources, with lists of its own for
# arm64.
# Idempotent: prints nothing when the folder holds these packages.
# usage: arm64-libs.sh [FOLDER]   (default /opt/reheap-arm64)
set -euo pipefail
dest=${1:-/opt/reheap-arm64}
pkgs=(libdw1 libdw-dev libelf1 libelf-dev libunwind8 libunwind-dev libjansson4 libjansson-dev
      zlib1g zlib1g-dev liblzma5 libzstd1 libbz2-1.0 dash coreutils)
# the programs the tests run under reheap, alone in guest-bin for the
# front of their PATH (all of coreutils there would run the scripts' own
# commands under qemu too): path in the packages, name
links=(bin/dash:sh bin/true:true bin/cat:cat usr/bin/sort:sort)
[ "$(cat "$dest/.packages" 2>/dev/null)" = "${pkgs[*]} ${links[*]}" ] && exit 0
if [ "$(id -u)" -ne 0 ] && [ ! -w "$(dirname "$dest")" ]; then
  echo "deps: the aarch64 build's libraries are missing from $dest; run 'sudo scripts/deps.sh'" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/root"
apt_arm64=(-q -o APT::Architecture=arm64 -o APT::Architectures=arm64 -o Dir::State::Lists="$work/lists"
           -o Dir::Cache="$work/cache" -o Dir::State::Status=/dev/null -o APT::Sandbox::User=root)
echo "deps: fetching the aarch64 build's libraries (${pkgs[*]}) into $dest" >&2
apt-get "${apt_arm64[@]}" update >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
(cd "$work/debs" && apt-get "${apt_arm64[@]}" download "${pkgs[@]}") >>"$work/log" 2>&1 ||
  { cat "$work/log" >&2; exit 1; }
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done
mkdir -p "$work/root/guest-bin"
for p in "${links[@]}"; do
  ln -s "../${p%%:*}" "$work/root/guest-bin/${p##*:}"
done
printf '%s' "${pkgs[*]} ${links[*]}" >"$work/root/.packages"
rm -rf "$dest.old"
[ -e "$dest" ] && mv "$dest" "$dest.old"
mkdir -p "$(dirname "$dest")"
mv "$work/root" "$dest"
chmod 755 "$dest"
rm -rf "$dest.old"
