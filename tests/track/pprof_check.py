#!/usr/bin/env python3
"""Reads a gzipped pprof profile with a protobuf decoder of its own (no
protobuf library is needed) and checks it against the JSON report of the
same run: usage: pprof_check.py PROFILE JSON [sampled]. Exit 1, with what
differs, when anything does."""
import gzip, json, sys

def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1
        v |= (c & 0x7f) << s; s += 7
        if c < 0x80:
            return v, i

def fields(b):
    i, out = 0, []
    while i < len(b):
        k, i = varint(b, i)
        f, w = k >> 3, k & 7
        if w == 0:
            v, i = varint(b, i)
        elif w == 2:
            n, i = varint(b, i); v = b[i:i + n]; i += n
        else:
            raise ValueError(f"wire type {w} at {i}")
        out.append((f, v))
    return out

def packed(b):
    i, o = 0, []
    while i < len(b):
        v, i = varint(b, i); o.append(v)
    return o

bad = []
raw = open(sys.argv[1], "rb").read()
if raw[:2] != b"\x1f\x8b":
    sys.exit("FAIL: not gzip")
top = fields(gzip.decompress(raw))
strs = [v.decode() for f, v in top if f == 6]
if not strs or strs[0] != "":
    bad.append("string 0 is not empty")
one = lambda v: dict(fields(v))
types = [(strs[one(v).get(1, 0)], strs[one(v).get(2, 0)]) for f, v in top if f == 1]
if types != [("alloc_objects", "count"), ("alloc_space", "bytes"), ("inuse_objects", "count"), ("inuse_space", "bytes")]:
    bad.append(f"sample types {types}")
mappings = {one(v)[1]: one(v) for f, v in top if f == 3}
functions = {one(v)[1]: strs[one(v).get(2, 0)] for f, v in top if f == 5}
locations = {}
for f, v in top:
    if f != 4:
        continue
    fl = fields(v); d = dict(fl)
    if d.get(2, 0) not in mappings:
        bad.append(f"location {d[1]} names mapping {d.get(2)}, not in the profile")
    locations[d[1]] = [functions[one(x)[1]] for g, x in fl if g == 4]
samples = []
for f, v in top:
    if f != 2:
        continue
    ids, vals = [], []
    for g, x in fields(v):
        if g == 1: ids = packed(x)
        if g == 2: vals = packed(x)
    if len(vals) != 4 or any(i not in locations for i in ids):
        bad.append(f"sample {vals} {ids}")
        continue
    samples.append(([locations[i][0] for i in ids], vals))
comment = [strs[v] for f, v in top if f == 13]
want_comment = "sampled" if len(sys.argv) > 3 else "every block"
if not comment or want_comment not in comment[0]:
    bad.append(f"comment {comment}")
if not any(strs[m.get(5, 0)].endswith("track_leaky") and len(strs[m.get(6, 0)]) >= 16 for m in mappings.values()):
    bad.append("no mapping of the program with its build id")

# against the JSON report of the same run, by innermost function
r = json.load(open(sys.argv[2]))
def by_fn(groups):
    out = {}
    for g in groups:
        fn = g["frames"][0]["function"] if g["frames"] else ""
        out[fn] = out.get(fn, 0) + g["bytes"]
    return out
def prof(k):
    out = {}
    for fns, vals in samples:
        if vals[k]:
            out[fns[0] if fns else ""] = out.get(fns[0] if fns else "", 0) + vals[k]
    return out
if prof(1) != by_fn(r["allocated"]):
    bad.append(f"alloc_space {prof(1)} != allocated {by_fn(r['allocated'])}")
live = by_fn(r["leaks"] + r["reachable"])
if prof(3) != live:
    bad.append(f"inuse_space {prof(3)} != live {live}")
if bad:
    print("FAIL: " + "; ".join(bad))
    sys.exit(1)
print(f"pprof: {len(samples)} samples, {len(locations)} locations, {len(functions)} functions, "
      f"{len(mappings)} mappings, as the JSON report")
