#!/usr/bin/env bash
# scripts/deps.sh derives its deb-src entries from the machine's own apt
# sources (mirror, suites, keys), never from an address of its own: fed a
# folder of sources in both formats, it prints exactly their deb-src twins.
# usage: test_deps_src.sh SOURCE_DIR
set -euo pipefail
src=$1
etc=$(mktemp -d)
trap 'rm -rf "$etc"' EXIT
mkdir "$etc/sources.list.d"
cat >"$etc/sources.list.d/mirror.sources" <<'EOS'
# the site's mirror
Types: deb
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
Enabled: no
URIs: http://old.example.org/debian
Suites: bullseye
Components: main
EOS
got=$(REHEAP_APT_ETC=$etc bash "$src/scripts/deps.sh" --print-src)
want='Types: deb-src
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg'
[ "$got" = "$want" ] || { printf 'FAIL: deb822 sources gave:\n%s\n' "$got" >&2; exit 1; }
cat >"$etc/sources.list" <<'EOS'
# deb http://commented.example.org/debian bookworm main
deb [arch=amd64 signed-by=/k.gpg] http://one.example.org/debian bookworm main
deb-src http://src.example.org/debian bookworm main
EOS
got=$(REHEAP_APT_ETC=$etc bash "$src/scripts/deps.sh" --print-src | tail -1)
[ "$got" = "deb-src [arch=amd64 signed-by=/k.gpg] http://one.example.org/debian bookworm main" ] ||
  { echo "FAIL: one-line sources gave: $got" >&2; exit 1; }
grep -q 'deb.debian.org' "$src/scripts/deps.sh" && { echo "FAIL: deps.sh names an archive of its own" >&2; exit 1; }
echo "deps src: ok"
