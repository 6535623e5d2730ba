"""py_alloc_bench: allocation-heavy CPython work for bench/py_bench.sh.

Small objects made and dropped by the million, the way ordinary Python
code makes them: tuples, dicts, short strings, lists, instances with a
__dict__, comprehensions. Single-threaded and deterministic: the checksum
depends only on SCALE, so runs under different heaps can be compared.
Nothing here hashes a string into the checksum or walks a set of them,
since string hashes change with every interpreter start.

Prints the checksum and the time of the work itself.
usage: python3 py_alloc_bench.py [SCALE]   (SCALE 1: about 1-2 s)
"""

import sys
import time

MASK = (1 << 32) - 1


class Particle:
    def __init__(self, x, y, vx, vy, tag):
        self.x = x
        self.y = y
        self.vx = vx
        self.vy = vy
        self.tag = tag

    def step(self):
        # a new object per step, as immutable-style code does
        return Particle(self.x + self.vx, self.y + self.vy, self.vx, -self.vy, self.tag)


def records(n):
    """dicts with tuples and short strings inside, grouped and summed"""
    total = 0
    groups = {}
    for i in range(n):
        rec = {"id": i, "name": "item%d" % i, "pos": (i % 17, i % 31), "tags": [i % 3, i % 5]}
        key = rec["name"][-1]
        groups.setdefault(key, []).append(rec)
        if len(groups[key]) > 64:
            total += sum(r["pos"][0] * r["tags"][1] + len(r["name"]) for r in groups[key])
            groups[key] = []
    for key in sorted(groups):
        total += sum(r["id"] for r in groups[key])
    return total & MASK


def particles(n, steps):
    """instances replaced every step; the old ones die young"""
    ps = [Particle(i, -i, i % 7 - 3, i % 5 - 2, "p%d" % (i % 100)) for i in range(n)]
    for _ in range(steps):
        ps = [p.step() for p in ps]
    return sum(p.x * 3 + p.y + len(p.tag) for p in ps) & MASK


def strings(n):
    """short strings built, split, joined and sliced"""
    total = 0
    for i in range(n):
        words = ["w%d" % (i * k % 97) for k in range(8)]
        line = " ".join(words)
        parts = line.split(" ")
        total += len(line) + len(parts[3]) + ord(line[-1])
        total += len(line.upper()[2:9].replace("W", "vv"))
    return total & MASK


def trees(depth, count):
    """binary trees of tuples, built whole and dropped"""

    def make(d):
        return (make(d - 1), make(d - 1)) if d > 0 else (None, None)

    def check(t):
        return 1 if t[0] is None else 1 + check(t[0]) + check(t[1])

    return sum(check(make(depth)) for _ in range(count)) & MASK


def churn(n):
    """list and dict comprehensions over each other's results"""
    total = 0
    for i in range(n):
        xs = [j * i % 101 for j in range(40)]
        d = {j: (x, str(x)) for j, x in enumerate(xs) if x % 3}
        ys = [v[1] for v in d.values() if v[0] > 20]
        total += len(d) + sum(len(y) for y in ys)
    return total & MASK


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    n = lambda k: max(1, int(k * scale))
    start = time.perf_counter()
    parts = [
        records(n(200_000)),
        particles(n(20_000), 20),
        strings(n(100_000)),
        trees(12, n(60)),
        churn(n(40_000)),
    ]
    checksum = 0
    for p in parts:
        checksum = (checksum * 1_000_003 + p) & MASK
    # the work alone, without the interpreter's start-up (or reheap's)
    work = time.perf_counter() - start
    print("py_alloc_bench: checksum %d" % checksum)
    print("py_alloc_bench: work %.3f s" % work)


if __name__ == "__main__":
    main()
