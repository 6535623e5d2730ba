#!/usr/bin/env bash
# reheap run --track --format svg / svg-allocated: a flame graph in one
# file that XML reads, naming no other file or site, with each box as wide
# as its bytes; and in headless Chromium its script runs with no error,
# zooms into a box, zooms out and searches.
# usage: test_track_svg.sh BUILD_DIR LEAKY_PROGRAM
set -uo pipefail
bin="$1/bin/reheap"
prog="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
unset DEBUGINFOD_URLS

for heap in reheap system; do
  for f in svg svg-allocated; do
    "$bin" run --heap=$heap --track --format $f --report "$tmp/$heap-$f.svg" -- "$prog" || fail "$heap $f: exit $?"
  done
  python3 - "$tmp/$heap-svg.svg" "$tmp/$heap-svg-allocated.svg" <<'PY' || fail "$heap: the flame graphs"
import re, sys, xml.etree.ElementTree as E
ns = {"s": "http://www.w3.org/2000/svg"}
def boxes(path):
    root = E.parse(path).getroot()
    out = {}
    for g in root.findall("s:g", ns):
        name = re.sub(r" \(\d+ bytes.*$", "", g.find("s:title", ns).text)
        out[name] = (float(g.get("data-b")), float(g.find("s:rect", ns).get("width")))
    return out, open(path).read()
bad = []
leaks, text = boxes(sys.argv[1])
# leaky.c leaks 5000 bytes at leak_big and 300 at leak_small, all under main
if leaks.get("leak_big", (0,))[0] != 5000 or leaks.get("leak_small", (0,))[0] != 300 or leaks["all"][0] != 5300:
    bad.append(f"leaked boxes {leaks}")
if abs(leaks["leak_big"][1] - 1200 * 5000 / 5300) > 0.01:
    bad.append(f"leak_big is {leaks['leak_big'][1]} wide")
if re.search(r"(https?:|file:)//(?!www\.w3\.org/2000/svg)", text) or "<script src" in text:
    bad.append("it names another file or site")
alloc, _ = boxes(sys.argv[2])
if alloc.get("freed_fine", (0,))[0] != 1100000 or alloc["all"][0] != 1105300:
    bad.append(f"allocated boxes {alloc}")
if bad:
    print("FAIL: " + "; ".join(bad)); sys.exit(1)
PY
done

# the script, in a browser: a test script added at its end clicks and searches
if command -v chromium >/dev/null; then
  python3 - "$tmp/reheap-svg.svg" "$tmp/t.svg" <<'PY'
import sys
s = open(sys.argv[1]).read()
test = """<script type="text/ecmascript"><![CDATA[
const out = [];
const find = n => frames.find(f => f.querySelector('title').textContent.startsWith(n + ' '));
const big = find('leak_big'), small = find('leak_small');
big.dispatchEvent(new MouseEvent('click', {bubbles: true}));
out.push('zoomed:' + (small.style.display === 'none') + ':' + big.querySelector('rect').getAttribute('width'));
document.getElementById('background').dispatchEvent(new MouseEvent('click', {bubbles: true}));
out.push('unzoomed:' + (small.style.display === ''));
search(/leak_s/);
out.push(found.textContent);
const r = document.createElementNS('http://www.w3.org/2000/svg', 'text');
r.setAttribute('id', 'result'); r.textContent = out.join(' ');
document.documentElement.appendChild(r);
]]></script>
</svg>"""
open(sys.argv[2], "w").write(s.replace("</svg>\n", test))
PY
  dom=$(timeout 60 chromium --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
        --dump-dom "file://$tmp/t.svg" 2>"$tmp/console")
  got=$(grep -o '<text id="result">[^<]*' <<<"$dom" | sed 's/.*>//')
  [ "$got" = "zoomed:true:1200 unzoomed:true matched: 5.66%" ] || fail "in Chromium: '$got'"
  grep -qi "uncaught\|SyntaxError" "$tmp/console" && fail "in Chromium: $(grep -i -m2 'uncaught\|SyntaxError' "$tmp/console")"
else
  echo "note: chromium is not installed (scripts/deps.sh installs it): the script was not run"
fi
[ $fails -eq 0 ] && echo "track svg: flame graphs of leaked and allocated bytes, both heaps, script checked"
exit $((fails > 0))
