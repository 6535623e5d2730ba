#!/usr/bin/env bash
# Builds the 32-bit hook test: Zydis's decoder compiled with -m32 from
# Debian's source package (fetched here, at build time, never committed;
# Debian ships libzydis-dev for 64-bit only), then the hook engine and the
# test. usage: build.sh SOURCE_DIR OUTPUT_DIR
set -euo pipefail
src="$1"
out="$2"
mkdir -p "$out"
cflags=(-m32 -O2 -g -fPIC -D_GNU_SOURCE -DZYDIS_STATIC_BUILD -DZYCORE_STATIC_BUILD)

if [ ! -f "$out/libzydis32.a" ]; then
  rm -rf "$out/zydis-src" "$out/zydis-obj"
  mkdir -p "$out/zydis-src" "$out/zydis-obj"
  (cd "$out/zydis-src" && apt-get source -qq --download-only zydis >/dev/null 2>&1) || {
    echo "i386 build: cannot fetch Zydis's source (apt-get source zydis); run scripts/deps.sh" >&2
    exit 1
  }
  tar -C "$out/zydis-src" -xzf "$out"/zydis-src/zydis_*.orig.tar.gz
  zdir=$(find "$out/zydis-src" -maxdepth 1 -mindepth 1 -type d | head -1)
  for f in Decoder DecoderData SharedData Utils Zydis MetaInfo Mnemonic Register Segment; do
    gcc "${cflags[@]}" -I"$zdir/include" -I"$zdir/src" -c "$zdir/src/$f.c" -o "$out/zydis-obj/$f.o"
  done
  rm -f "$out/zydis-include"
  ln -s "$zdir/include" "$out/zydis-include"
  ar rcs "$out/libzydis32.a" "$out"/zydis-obj/*.o
fi

# the engine, less its ELF symbol reader (a library of its own, over elfutils)
hook_src=()
for f in "$src"/src/hook/*.c; do [[ $f == */symbols_elf.c || $f == */got_pe.c || $f == *_aarch64.c ]] || hook_src+=("$f"); done
engine=("${hook_src[@]}" "$src/src/os/os_code_linux.c" "$src/src/os/os_threads_linux.c"
        "$src/src/os/os_linux.c" "$src/tests/hook/i386/fixtures_i386.S")
build() { # OUTPUT TEST_SOURCE [FLAGS...]
  local o="$1" t="$2"
  shift 2
  gcc "${cflags[@]}" -Wall -Wextra -Werror -I"$out/zydis-include" -I"$src/include" \
    -I"$src/src" -I"$src/tests/common" -I"$src/tests/hook" "${engine[@]}" "$t" "$out/libzydis32.a" "$@" -rdynamic -ldl -lpthread -o "$o"
}
build "$out/hook_test_i386" "$src/tests/hook/i386/test_i386.c"
# qemu runs the threads slower: fewer switches keep the test short
build "$out/hook_race_i386" "$src/tests/hook/test_race.c" -DSWITCHES=200 -DRACE_NO_SPAWNER
# GOT hooks: the same two fixture libraries, 32-bit, full RELRO
for lib in gotfix:got_fixture_parse gotfix_later:got_fixture_later_parse; do
  gcc -m32 -O2 -fPIC -shared -fno-builtin -Wall -Wextra -Werror -DGOT_FIXTURE_FN="${lib#*:}" \
    -Wl,-z,relro,-z,now "$src/tests/hook/got_fixture.c" -o "$out/lib${lib%%:*}.so"
done
build "$out/hook_got_i386" "$src/tests/hook/test_got.c" -fno-builtin -Wl,-z,relro,-z,now \
  -L"$out" -Wl,-rpath,"$out" -lgotfix
