#!/usr/bin/env bash
# The legacy-game example on its own managers and taken over by its
# profile: the same frames, every byte checked by the game, and under the
# profile none of its managers' own code serving a block.
# usage: test_legacy_game.sh BUILD_DIR GAME PROFILE
set -u
bin="$1/bin/reheap"
game="$2"
profile="$3"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

out=$("$game" 120) || fail "alone: $out"
grep -q "120 frames ok" <<<"$out" && grep -q "heap [1-9][0-9]*/" <<<"$out" || fail "alone: $out"
out=$("$bin" run --profile "$profile" -- "$game" 120) || fail "taken over: $out"
grep -q "120 frames ok" <<<"$out" || fail "taken over: $out"
grep -q "own allocators served: heap 0/0, pool 0/0, assets 0/0, simd 0/0" <<<"$out" ||
  fail "taken over, yet its own managers served: $out"
out=$("$bin" run --track --report /dev/null --profile "$profile" -- "$game" 60) || fail "tracked: $out"
grep -q "60 frames ok" <<<"$out" || fail "tracked: $out"
# served by the system heap through the tracker
out=$("$bin" run --heap=system --track --report /dev/null --profile "$profile" -- "$game" 60) ||
  fail "system heap, tracked: $out"
grep -q "60 frames ok" <<<"$out" && grep -q "heap 0/0, pool 0/0, assets 0/0, simd 0/0" <<<"$out" ||
  fail "system heap, tracked: $out"

if [ $fails -ne 0 ]; then
  echo "$fails failure(s)"
  exit 1
fi
echo "legacy-game: all checks passed"
