"""The demo's workload: a short, allocation-heavy Python program.

It builds and tears down the kinds of structures real programs churn
through (dicts of records, strings, lists that grow, JSON round trips),
in two threads, and prints a checksum so that a run on any heap can be
checked against a run on another. Run with PYTHONMALLOC=malloc so that
Python's small objects come from the C heap instead of its own pools.
"""
import json
import threading


def records(n, seed):
    out = []
    for i in range(n):
        k = (i * 2654435761 + seed) & 0xFFFF
        out.append({"id": i, "name": "item-%d-%x" % (i, k), "tags": ["t%d" % (k % 7)] * (k % 5),
                    "score": k / 7.0})
    return out


def work(rounds, seed, results, slot):
    total = 0
    for r in range(rounds):
        recs = records(20000, seed + r)
        text = json.dumps(recs)
        back = json.loads(text)
        index = {rec["name"]: rec for rec in back}
        words = " ".join(rec["name"] for rec in back).split()
        total += len(text) + len(index) + len(words)
        del recs, back, index, words, text
    results[slot] = total


def main():
    results = [0, 0]
    threads = [threading.Thread(target=work, args=(6, 1000 * t, results, t)) for t in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("alloc_heavy: checksum %d" % sum(results))


if __name__ == "__main__":
    main()
