#!/usr/bin/env bash
# reheap run --track --format pprof: a gzipped profile.proto whose samples,
# read back with the test's own protobuf decoder (pprof_check.py), hold
# the same bytes per stack as the JSON report of the same run (allocated
# and live), with functions, locations and the program's mapping and
# build id; on both heaps, exact and sampled. `go tool pprof` reads it too
# when Go is installed.
# usage: test_track_pprof.sh BUILD_DIR LEAKY_PROGRAM
set -uo pipefail
bin="$1/bin/reheap"
prog="$2"
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
unset DEBUGINFOD_URLS

for heap in reheap system; do
  "$bin" run --heap=$heap --track --format pprof --report "$tmp/$heap.pb.gz" -- "$prog" || fail "$heap: exit $?"
  [ "$(stat -c %a "$tmp/$heap.pb.gz")" = 600 ] || fail "$heap: profile mode $(stat -c %a "$tmp/$heap.pb.gz")"
  "$bin" run --heap=$heap --track --format json --report "$tmp/$heap.json" -- "$prog" || fail "$heap: json exit $?"
  python3 "$here/pprof_check.py" "$tmp/$heap.pb.gz" "$tmp/$heap.json" || fail "$heap: the profile differs"
done
# sampled (every 4 KiB): the profile's values are the report's estimates
"$bin" run --track=sample=4K --format pprof --report "$tmp/s.pb.gz" -- "$prog" || fail "sampled: exit $?"
python3 - "$tmp/s.pb.gz" <<'PY' || fail "sampled: no sampled comment"
import gzip, sys
sys.exit(b"reheap track, sampled" not in gzip.decompress(open(sys.argv[1], "rb").read()))
PY
if command -v go >/dev/null; then
  go tool pprof -top "$tmp/reheap.pb.gz" >"$tmp/top" 2>&1 || fail "go tool pprof: $(head -3 "$tmp/top")"
fi
[ $fails -eq 0 ] && echo "track pprof: profiles as the JSON reports, both heaps, sampled"
exit $((fails > 0))
