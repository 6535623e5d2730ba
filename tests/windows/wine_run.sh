#!/usr/bin/env bash
# The Windows tests' emulator: wine64 PROGRAM ARGS..., again (up to three
# times in all) when wine lost its server as the program started. Each
# program's wine server exits after it, and one starting at that moment
# fails with "wine client error: ... Connection reset by peer" before the
# program runs a line; that says nothing of the program.
# usage: wine_run.sh WINE PROGRAM ARGS...
wine="$1"
shift
err=$(mktemp)
trap 'rm -f "$err"' EXIT
for try in 1 2 3; do
  "$wine" "$@" 2>"$err"
  rc=$?
  cat "$err" >&2
  if [ "$rc" -eq 0 ] || ! grep -q "^wine client error" "$err"; then exit "$rc"; fi
  echo "wine_run: wine lost its server starting $1 (try $try)" >&2
  sleep 1
done
exit "$rc"
