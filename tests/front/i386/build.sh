#!/usr/bin/env bash
# Builds the 32-bit takeover test: the heap, the hook engine, the spec
# parser and the takeover with its i386 entries, compiled with -m32 into
# one program, over the 32-bit Zydis that tests/hook/i386/build.sh made.
# usage: build.sh SOURCE_DIR OUTPUT_DIR ZYDIS32_DIR
set -euo pipefail
src="$1"
out="$2"
zydis="$3"
# the engine, less its ELF symbol reader (a library of its own, over
# elfutils) and its Windows files
hook_src=()
for f in "$src"/src/hook/*.c; do [[ $f == */symbols_elf.c || $f == */got_pe.c || $f == *_aarch64.c ]] || hook_src+=("$f"); done
os_src=()
for f in "$src"/src/os/*.c; do [[ $f == *_windows.c || $f == */os_remote_* ]] || os_src+=("$f"); done
mkdir -p "$out"
gcc -m32 -O2 -g -fPIC -D_GNU_SOURCE -DZYDIS_STATIC_BUILD -DZYCORE_STATIC_BUILD \
  -Wall -Wextra -Werror -Wno-psabi -fno-omit-frame-pointer \
  -I"$zydis/zydis-include" -I"$src/include" -I"$src/src" -I"$src/tests/common" \
  "$src"/src/alloc/*.c "${hook_src[@]}" "${os_src[@]}" \
  "$src/src/front/hook_spec.c" "$src/src/front/takeover.c" "$src/src/front/takeover_install.c" "$src/src/front/takeover_quarantine.c" "$src/src/front/takeover_scrap.c" "$src/src/front/takeover_symbols.c" "$src/src/front/takeover_signature.c" \
  "$src/src/front/takeover_i386.c" "$src/src/front/takeover_i386.S" \
  "$src/tests/front/i386/test_takeover_i386.c" "$src/tests/front/i386/call_measured_i386.S" \
  "$zydis/libzydis32.a" -rdynamic -ldl -lpthread -o "$out/takeover_test_i386"
