#!/usr/bin/env bash
# How near --track=sample's estimates come to the exact figures: legacy-game
# under --track (every block) once and under --track=sample (512 KiB)
# RUNS times; for every stack above 1% of the bytes allocated, the
# estimate's error in each run, and the error one standard deviation of
# sampling predicts for blocks far smaller than 512 KiB (1/sqrt(bytes /
# 512 KiB), the physical limit of a sample that size; a larger block is
# nearly always sampled). usage: track_sample_accuracy.sh BIN_DIR [RUNS]
set -euo pipefail
bin="$1"
runs="${2:-5}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prog="$bin/legacy-game"
"$bin/reheap" run --track --format json --report "$tmp/exact.json" -- "$prog" --bench 3000 >/dev/null
for r in $(seq "$runs"); do
  "$bin/reheap" run --track=sample --format json --report "$tmp/s$r.json" -- "$prog" --bench 3000 >/dev/null
done
python3 - "$tmp" "$runs" <<'PY'
import json, math, statistics, sys
tmp, runs = sys.argv[1], int(sys.argv[2])
def stacks(path):
    r = json.load(open(path))
    out = {}
    for g in r["allocated"]:
        # frames by function and offset: addresses move from run to run
        key = tuple((f["function"] or f["module"].rsplit("/", 1)[-1], f["offset"]) for f in g["frames"])
        out[key] = out.get(key, 0) + g["bytes"]
    return out, r["summary"]
exact, _ = stacks(f"{tmp}/exact.json")
total = sum(exact.values())
samples = [stacks(f"{tmp}/s{r}.json")[0] for r in range(1, runs + 1)]
T = 512 * 1024
print(f"## --track=sample's estimates against the exact figures (legacy-game, {runs} sampled runs, 512 KiB)")
print()
print("| stack (innermost frame) | share of bytes | exact bytes | median estimate | median error | largest error | one sd of sampling, small blocks |")
print("|---|---:|---:|---:|---:|---:|---:|")
worst = []
for key, b in sorted(exact.items(), key=lambda kv: -kv[1]):
    if b < total / 100:
        continue
    est = [s.get(key, 0) for s in samples]
    errs = [abs(e - b) / b for e in est]
    sd = 1 / math.sqrt(b / T)  # blocks far smaller than T: samples ~ bytes / T
    name = f"{key[0][0]}+{key[0][1]:#x}" if key else "(no stack)"
    worst.append(statistics.median(errs))
    print(f"| {name} | {100 * b / total:.1f}% | {b} | {int(statistics.median(est))} | "
          f"{100 * statistics.median(errs):.1f}% | {100 * max(errs):.1f}% | {100 * min(sd, 1):.1f}% |")
print()
met = "met" if max(worst) <= 0.10 else "MISSED"
print(f"| target | measured | goal | status |")
print(f"|---|---:|---:|---|")
print(f"| median error per stack above 1% (worst stack) | {100 * max(worst):.1f}% | <= 10% | {met} |")
PY
