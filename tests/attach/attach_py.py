# The python3 of the attach test: allocation traffic through malloc
# (run with PYTHONMALLOC=malloc) until the stop file appears; when the
# trigger file appears, a C library loaded by ctypes leaks known blocks
# (libonly_leak.so of the --only test: 3 blocks of 1000 bytes), then it
# writes the ack file and goes on.
# usage: attach_py.py LEAKLIB DIR
import ctypes, os, sys, time

lib, d = sys.argv[1], sys.argv[2]
open(os.path.join(d, "ready"), "w").close()
rounds, leaked, total = 0, False, 0
keep = []
while not os.path.exists(os.path.join(d, "stop")):
    for i in range(2000):
        s = ("x" * (i % 200)) + str(i)
        keep.append({"k": s, "v": [i, i * 2, s]})
        total += len(keep[-1]["k"])
        if len(keep) > 500:
            del keep[:250]
    rounds += 1
    if not leaked and os.path.exists(os.path.join(d, "trigger")):
        ctypes.CDLL(lib).only_leak_now()
        leaked = True
        open(os.path.join(d, "ack"), "w").close()
    time.sleep(0.001)
print("attach_py: leaked" if leaked else "attach_py: not leaked", "sum ok" if total > 0 else "sum 0")
