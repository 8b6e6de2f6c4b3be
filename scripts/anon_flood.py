#!/usr/bin/env python3
"""Anonymous senders against a running hookd: N connections at once, each
posting a body of SIZE bytes to a path no source serves (or any --path),
without credentials. Prints what hookd answered and its memory from
/proc/PID/status: the peak (VmHWM) and the resident set after the senders
closed (VmRSS). Loopback only; it starts nothing itself.

    scripts/anon_flood.py --pid PID --port PORT [--conns 1000] [--size 1MiB]
"""
import argparse
import collections
import selectors
import socket
import sys
import time


def vm(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024  # MiB
    return -1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/no-such-source")
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--size", type=int, default=1 << 20)
    ap.add_argument("--seconds", type=float, default=60, help="give up after this long")
    a = ap.parse_args()

    head = (f"POST {a.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {a.size}\r\n\r\n").encode()
    payload = memoryview(head + b"x" * a.size)  # one copy, shared by every sender
    sel = selectors.DefaultSelector()
    conns = {}
    for _ in range(a.conns):
        s = socket.create_connection(("127.0.0.1", a.port))
        s.setblocking(False)
        conns[s] = {"out": payload, "in": b""}
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    statuses = collections.Counter()
    deadline = time.time() + a.seconds
    while conns and time.time() < deadline:
        for key, ev in sel.select(timeout=1):
            s, st = key.fileobj, conns.get(key.fileobj)
            if st is None:
                continue
            done = False
            if ev & selectors.EVENT_WRITE and st["out"]:
                try:
                    n = s.send(st["out"][:65536])
                    st["out"] = st["out"][n:]
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    st["out"] = b""  # refused and closed: read what came back
                if not st["out"]:
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                try:
                    data = s.recv(65536)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError:
                    data = b""
                if data:
                    st["in"] += data
                if data == b"" or b"\r\n\r\n" in st["in"]:
                    line = st["in"].split(b"\r\n", 1)[0].split()
                    statuses[line[1].decode() if len(line) > 1 else "closed"] += 1
                    done = True
            if done:
                sel.unregister(s)
                s.close()
                del conns[s]
    for s in list(conns):
        statuses["no answer"] += 1
        s.close()
    peak = vm(a.pid, "VmHWM")
    time.sleep(2)
    print(f"answers: {dict(statuses)}")
    print(f"hookd peak RSS (VmHWM): {peak} MiB; RSS 2 s after the senders closed: "
          f"{vm(a.pid, 'VmRSS')} MiB")


if __name__ == "__main__":
    sys.exit(main())
