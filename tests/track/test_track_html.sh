#!/usr/bin/env bash
# reheap run --track --format html: one page, naming no other file or
# site, with the summary, the biggest leaks as a table and their flame
# graph; in headless Chromium it loads with no error and its script draws
# the chart of live bytes and resident memory from the points the tracker
# took while the program ran (a program that runs about half a second).
# usage: test_track_html.sh BUILD_DIR LEAKY_PROGRAM
set -uo pipefail
bin="$1/bin/reheap"
prog="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
unset DEBUGINFOD_URLS

"$bin" run --track --format html --report "$tmp/leaky.html" -- "$prog" || fail "leaky: exit $?"
page="$tmp/leaky.html"
[ "$(stat -c %a "$page")" = 600 ] || fail "page mode $(stat -c %a "$page")"
# (how many of leak_small's blocks a stale pointer keeps reachable varies
# with the stack's layout: the text report's test counts them)
grep -Eq "^reheap track: leaked 5[23]00 bytes in [34] blocks from" "$page" || fail "no summary: $(head -c 400 "$page")"
grep -q '<td class="n">5000</td><td class="n">1</td><td class="frames">leak_big' "$page" || fail "no leak_big row"
grep -q '<g class="f" .*<title>leak_big (5000 bytes' "$page" || fail "no flame graph box for leak_big"
grep -Eo '(src|href)="[^"#]*"|https?://[^" ]*' "$page" | grep -v 'http://www.w3.org/2000/svg' | grep -q . &&
  fail "it names another file or site: $(grep -Eo '(src|href)="[^"#]*"|https?://[^" ]*' "$page" | head -3)"
# a program that runs long enough for a few points of the timeline
"$bin" run --track --format html --report "$tmp/grow.html" -- "${bin%/*}/rh_test_ender" grow || fail "grow: exit $?"
points=$(grep -o 'const timeline = \[.*\];' "$tmp/grow.html" | grep -o '\[[0-9]*,[0-9]*,[0-9]*\]' | wc -l)
[ "$points" -ge 3 ] || fail "the timeline has $points points"
if command -v chromium >/dev/null; then
  for p in "$page" "$tmp/grow.html"; do
    dom=$(timeout 60 chromium --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
          --dump-dom "file://$p" 2>"$tmp/console")
    grep -qi "uncaught\|SyntaxError" "$tmp/console" && fail "$p: $(grep -i -m2 'uncaught\|SyntaxError' "$tmp/console")"
    if [ "$p" != "$page" ]; then
      drawn=$(grep -o '<polyline id="live-line"[^>]*points="[^"]*"' <<<"$dom" | grep -o '[0-9.]*,[0-9.]*' | wc -l)
      [ "$drawn" -eq "$points" ] || fail "the chart's live line has $drawn points, the timeline $points"
      grep -q '<polyline id="rss-line"' <<<"$dom" || fail "no resident memory line"
    fi
  done
else
  echo "note: chromium is not installed (scripts/deps.sh installs it): the page was not loaded"
fi
[ $fails -eq 0 ] && echo "track html: summary, table, flame graph, chart drawn from $points points"
exit $((fails > 0))
