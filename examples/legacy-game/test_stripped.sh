#!/usr/bin/env bash
# legacy-game as programs ship, its managers static and not exported, taken
# over by its profile's names: from its .symtab; stripped, from a debug
# file found by .gnu_debuglink or by build-id, or from its MiniDebugInfo;
# refused with nothing patched when no symbols are left, when a debug
# file is unreadable, or when a name is ambiguous.
# usage: test_stripped.sh BUILD_DIR GAME PROFILE
set -u
bin="$1/bin/reheap"
game="$2"
profile="$3"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

served_by_reheap() { # NAME PROGRAM [ENV...]
  local name=$1 prog=$2 out
  shift 2
  out=$(env "$@" "$bin" run --profile "$profile" -- "$prog" 60 2>&1) || { fail "$name: $out"; return; }
  grep -q "60 frames ok" <<<"$out" && grep -q "own allocators served: heap 0/0, pool 0/0, assets 0/0, simd 0/0" <<<"$out" ||
    fail "$name: not taken over: $out"
}

refused() { # NAME PROGRAM PATTERN [ENV...]
  local name=$1 prog=$2 pattern=$3 out
  shift 3
  out=$(env "$@" "$bin" run --profile "$profile" -- "$prog" 60 2>&1) || { fail "$name: $out"; return; }
  grep -q "profile refused, nothing patched" <<<"$out" && grep -q -- "$pattern" <<<"$out" ||
    fail "$name: expected a refusal saying '$pattern': $out"
  grep -q "60 frames ok" <<<"$out" && grep -q "heap [1-9][0-9]*/" <<<"$out" || fail "$name: the game did not run on its own: $out"
}

nm -D "$game" 2>/dev/null | grep -q Heap_Alloc && fail "the managers are in the dynamic symbol table"
served_by_reheap ".symtab" "$game"

objcopy --only-keep-debug "$game" "$tmp/legacy-game.debug"
objcopy --strip-all --add-gnu-debuglink="$tmp/legacy-game.debug" "$game" "$tmp/by-link"
nm "$tmp/by-link" 2>&1 | grep -q "no symbols" || fail "by-link still has symbols"
served_by_reheap ".gnu_debuglink" "$tmp/by-link"
mkdir "$tmp/elsewhere"
mv "$tmp/legacy-game.debug" "$tmp/elsewhere/"
refused "debuglink, file gone" "$tmp/by-link" "Heap_Alloc: no loaded module defines it"
mkdir "$tmp/.debug" && cp "$tmp/elsewhere/legacy-game.debug" "$tmp/.debug/"
served_by_reheap ".debug/ beside" "$tmp/by-link"
rm -r "$tmp/.debug"
# a debug file of another build under the link's name: its CRC differs
objcopy --only-keep-debug "$1/bin/legacy-game" "$tmp/legacy-game.debug"
refused "debuglink, CRC differs" "$tmp/by-link" "no loaded module defines it"
rm "$tmp/legacy-game.debug"

id=$(readelf -n "$game" | sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p')
[ -n "$id" ] || fail "the game has no build-id note"
objcopy --strip-all "$game" "$tmp/by-id"
mkdir -p "$tmp/debug/.build-id/${id:0:2}"
cp "$tmp/elsewhere/legacy-game.debug" "$tmp/debug/.build-id/${id:0:2}/${id:2}.debug"
served_by_reheap "build-id" "$tmp/by-id" REHEAP_DEBUG_DIR="$tmp/debug"
echo "not an ELF file" >"$tmp/debug/.build-id/${id:0:2}/${id:2}.debug"
refused "unreadable debug file" "$tmp/by-id" "cannot be read as ELF" REHEAP_DEBUG_DIR="$tmp/debug"
refused "stripped, no debug file" "$tmp/by-id" "no loaded module defines it" REHEAP_DEBUG_DIR="$tmp/nowhere"

# two local functions of one name (as two files' statics are): refused
# with both places listed; named by one of them, taken over
objcopy --add-symbol Pool_Free=.text:0x10,local,function "$game" "$tmp/twice"
refused "ambiguous name" "$tmp/twice" "2 functions are called Pool_Free: twice+0x[0-9a-f]*, twice+0x[0-9a-f]*"
real=$(nm "$game" | awk '$3 == "Pool_Free" { sub(/^0*/, "", $1); print $1 }')
sed "s/^Pool_Free /twice+0x$real /" "$profile" >"$tmp/twice.profile"
out=$("$bin" run --profile "$tmp/twice.profile" -- "$tmp/twice" 60 2>&1) || fail "by MODULE+0xOFFSET: $out"
grep -q "own allocators served: heap 0/0, pool 0/0, assets 0/0, simd 0/0" <<<"$out" ||
  fail "by MODULE+0xOFFSET: not taken over: $out"

xz -c "$tmp/elsewhere/legacy-game.debug" >"$tmp/mini.xz"
objcopy --strip-all --add-section .gnu_debugdata="$tmp/mini.xz" "$game" "$tmp/mini"
served_by_reheap ".gnu_debugdata" "$tmp/mini" REHEAP_DEBUG_DIR="$tmp/nowhere"

# stripped bare: by signature, each manager's first 24 bytes (read from
# the unstripped build, as a modder reads them from a disassembler)
read -r text_addr text_off < <(readelf -SW "$game" | awk '$2 == ".text" { print $4, $5 }')
sig_of() { # FUNCTION BYTES
  local a
  a=$(nm "$game" | awk -v f="$1" '$3 == f { print $1 }')
  od -An -tx1 -v -j $((0x$a - 0x$text_addr + 0x$text_off)) -N "$2" "$game" | tr -s ' \n' ' '
}
sig_profile() { # BYTES PREFIX OUT
  : >"$3"
  while read -r fn role; do
    case $fn in '' | '#'*) continue ;; esac
    echo "sig:bare:$2$(sig_of "$fn" "$1") ${role%%#*}" >>"$3"
  done <"$profile"
}
objcopy --strip-all "$game" "$tmp/bare"
sig_profile 24 "" "$tmp/sig.profile"
out=$("$bin" run --profile "$tmp/sig.profile" -- "$tmp/bare" 60 2>&1) || fail "by signature: $out"
grep -q "60 frames ok" <<<"$out" && grep -q "own allocators served: heap 0/0, pool 0/0, assets 0/0, simd 0/0" <<<"$out" ||
  fail "by signature: not taken over: $out ($(cat "$tmp/sig.profile"))"
# a signature too short to be one place (test %rdi, je: in many a
# function), and signatures of no place
{ head -1 "$tmp/sig.profile"; echo "sig:bare:48 85 ff 74 free(ptr)"; } >"$tmp/short.profile"
out=$("$bin" run --profile "$tmp/short.profile" -- "$tmp/bare" 60 2>&1)
grep -q "profile refused, nothing patched" <<<"$out" && grep -q "matches [0-9]* places" <<<"$out" ||
  fail "short signatures: $out ($(cat "$tmp/short.profile"))"
sig_profile 24 "cc cc cc cc cc " "$tmp/none.profile"
out=$("$bin" run --profile "$tmp/none.profile" -- "$tmp/bare" 60 2>&1)
grep -q "profile refused, nothing patched" <<<"$out" && grep -q "matches nowhere" <<<"$out" ||
  fail "signatures of no place: $out"

if [ $fails -ne 0 ]; then
  echo "$fails failure(s)"
  exit 1
fi
echo "legacy-game stripped: all checks passed"
