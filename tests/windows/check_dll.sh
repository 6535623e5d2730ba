#!/usr/bin/env bash
# Checks the game's plugin DLL as NVSE and Windows will see it: a 32-bit
# x86 PE DLL that exports exactly NVSEPlugin_Preload, NVSEPlugin_Query
# and NVSEPlugin_Load (NVSE skips a DLL of over 50 exports), and imports
# from system DLLs only (no libgcc, no winpthread, no C++ runtime).
# usage: check_dll.sh DLL
set -euo pipefail
dll="$1"
od=i686-w64-mingw32-objdump
dump=$($od -p "$dll")
fail() { echo "check_dll: $dll: $*" >&2; exit 1; }
grep -q "file format pei-i386" <<<"$dump" || fail "not a 32-bit x86 PE file"
sed -n '/^Characteristics/,/^$/p' <<<"$dump" | grep -qx $'\tDLL' || fail "not a DLL"
exports=$(sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' <<<"$dump" | awk '/\[/{print $NF}' | grep -v Table | sort | tr '\n' ' ')
[ "$exports" = "NVSEPlugin_Load NVSEPlugin_Preload NVSEPlugin_Query " ] || fail "exports '$exports'"
imports=$(awk '/DLL Name:/{print tolower($3)}' <<<"$dump" | sort -u | tr '\n' ' ')
for d in $imports; do
  case "$d" in
  kernel32.dll | msvcrt.dll | ntdll.dll | user32.dll | advapi32.dll) ;;
  *) fail "imports $d, which is not a system DLL" ;;
  esac
done
echo "check_dll: $dll: PE32 DLL, exports $exports; imports $imports"
