#!/usr/bin/env bash
# Programs nobody here wrote, doing real work on reheap's heap.
# usage: real_programs.sh BUILD_DIR python|sqlite3|git
#   python : a set of CPython's own regression tests passes on reheap
#   sqlite3, git : the same output with and without reheap
set -uo pipefail
build=$(cd "$1" && pwd) || { echo "no build directory $1" >&2; exit 2; }
what="$2"
reheap="$build/bin/reheap"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Python's small objects go to the C heap too, so the tests exercise reheap.
export PYTHONMALLOC=malloc

die() { echo "FAIL: $*"; exit 1; }

# runs "$@" under reheap, failing unless libreheap.so is really in it
on_reheap() { "$reheap" run -- "$@"; }

case "$what" in
python)
  py=/usr/bin/python3
  on_reheap $py -c 'import sys; sys.exit(0 if "libreheap.so" in open("/proc/self/maps").read() else 1)' ||
    die "libreheap.so is not in python3's process"
  # chosen to cover dicts, strings, containers, regexes, threads, GC,
  # pickling and fork, and to finish in about a minute on 2 cores
  tests=(test_dict test_list test_set test_unicode test_json test_re test_threading
         test_weakref test_gc test_bytes test_pickle test_collections test_itertools
         test_struct test_fork1 test_queue test_thread test_heapq test_deque test_array)
  on_reheap $py -m test -j2 --timeout 300 "${tests[@]}" >"$tmp/log" 2>&1
  rc=$?
  tail -n 15 "$tmp/log"
  [ "$rc" -eq 0 ] || die "python3 -m test failed on reheap (exit $rc)"
  grep -q "Tests result: SUCCESS" "$tmp/log" || die "python3 -m test did not report SUCCESS"
  ;;
sqlite3)
  cat >"$tmp/work.sql" <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, payload BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO t SELECT i, printf('name-%08d', (i * 7919) % 100000), i % 97, zeroblob(i % 300) FROM n;
CREATE INDEX t_name ON t(name);
CREATE INDEX t_grp ON t(grp, name);
SELECT grp, count(*), sum(length(payload)), min(name), max(name) FROM t GROUP BY grp ORDER BY grp;
SELECT count(DISTINCT substr(name, 6, 3)) FROM t;
UPDATE t SET name = upper(name) || '-' || id WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT group_concat(name, ',') FROM (SELECT name FROM t ORDER BY name DESC LIMIT 50);
VACUUM;
PRAGMA integrity_check;
SELECT count(*), sum(id) FROM t;
SQL
  sqlite3 "$tmp/plain.db" <"$tmp/work.sql" >"$tmp/plain.out" 2>&1 || die "sqlite3 failed without reheap"
  on_reheap sqlite3 "$tmp/reheap.db" <"$tmp/work.sql" >"$tmp/reheap.out" 2>&1 ||
    die "sqlite3 failed on reheap"
  [ "$(wc -l <"$tmp/plain.out")" -gt 100 ] || die "sqlite3 produced too little output"
  cmp "$tmp/plain.out" "$tmp/reheap.out" || die "sqlite3 output differs on reheap"
  grep -qx ok "$tmp/reheap.out" || die "integrity_check did not say ok"
  ;;
git)
  # the same history built twice, once per heap: the hashes must agree
  export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e
  export GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z'
  export GIT_CONFIG_NOSYSTEM=1 HOME="$tmp"
  build_repo() { # RUNNER... ; runs in $PWD
    local run=("$@")
    "${run[@]}" git init -q -b main . || return 1
    for c in $(seq 1 20); do
      for f in $(seq 1 25); do
        seq $((c * f)) $((c * f + 200 + f)) | sed "s/^/line $c $f /" >"file$f.txt"
      done
      "${run[@]}" git add -A && "${run[@]}" git commit -q -m "commit $c" || return 1
    done
    "${run[@]}" git gc -q --aggressive || return 1
    "${run[@]}" git fsck --full --strict 2>&1 || return 1
    "${run[@]}" git log --stat -p --format='%H %s' | sha256sum
    "${run[@]}" git rev-list --objects --all | sort | sha256sum
    "${run[@]}" git diff main~15 main --stat | tail -1
    "${run[@]}" git blame file7.txt | sha256sum
  }
  mkdir "$tmp/plain" "$tmp/reheap"
  (cd "$tmp/plain" && build_repo env) >"$tmp/plain.out" 2>&1 || die "git failed without reheap"
  (cd "$tmp/reheap" && build_repo "$reheap" run --) >"$tmp/reheap.out" 2>&1 ||
    die "git failed on reheap: $(tail -3 "$tmp/reheap.out")"
  cmp "$tmp/plain.out" "$tmp/reheap.out" || die "git output differs on reheap"
  [ "$(wc -l <"$tmp/reheap.out")" -ge 4 ] || die "git produced too little output"
  ;;
*)
  echo "usage: real_programs.sh BUILD_DIR python|sqlite3|git" >&2
  exit 2
  ;;
esac
echo "$what on reheap: ok"
