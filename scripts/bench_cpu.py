#!/usr/bin/env python3
"""Runs a command (scripts/bench.sh's wrk) and writes where the machine's CPU
went while it ran, as percentages of all cores (docs/benchmark.md):

    bench_cpu.py OUT SPEC SPEC SPEC -- CMD ARGS...

Each SPEC is a comma-separated list of pids (empty: none); a pid written
+PID counts that process and all its descendants, the living ones and the
ones already reaped (their time is in the parent's cutime/cstime), so the
backends of a PostgreSQL postmaster that come and go are all in. OUT gets
one line:

    SPEC1% SPEC2% SPEC3% CMD% other% idle%

CMD's time is its own (wait4's rusage); other is every other busy tick of
the machine (/proc/stat: other programs, interrupts), idle includes iowait.
CMD's stdout and stderr are passed through; the exit code is CMD's."""
import os
import subprocess
import sys

HZ = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """(ppid, own ticks, reaped children's ticks) or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14])


def _ticks(spec):
    pids = [p for p in spec.split(",") if p]
    if not pids:
        return 0
    procs = {}
    if any(p.startswith("+") for p in pids):
        for d in os.listdir("/proc"):
            if d.isdigit():
                s = _stat(d)
                if s:
                    procs[int(d)] = s
    total = 0
    for p in pids:
        tree = p.startswith("+")
        root = int(p.lstrip("+"))
        if not tree:
            s = _stat(root)
            total += s[1] if s else 0
            continue
        todo, seen = [root], set()
        while todo:
            pid = todo.pop()
            if pid in seen or pid not in procs:
                continue
            seen.add(pid)
            total += procs[pid][1] + procs[pid][2]
            todo += [c for c, s in procs.items() if s[0] == pid]
    return total


def _system():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]  # user..steal (guest is in user)
    return sum(v), v[3] + v[4]


def main(argv):
    if "--" not in argv or argv.index("--") != 4:
        print(__doc__, file=sys.stderr)
        return 2
    out, specs, cmd = argv[0], argv[1:4], argv[5:]
    t0, i0 = _system()
    g0 = [_ticks(s) for s in specs]
    proc = subprocess.Popen(cmd)
    try:
        _, status, ru = os.wait4(proc.pid, 0)
    except KeyboardInterrupt:  # ^C: bench.sh's trap cleans up
        proc.kill()
        return 130
    g1 = [_ticks(s) for s in specs]
    t1, i1 = _system()
    total = max(t1 - t0, 1)
    groups = [max(b - a, 0) for a, b in zip(g0, g1)] + [(ru.ru_utime + ru.ru_stime) * HZ]
    idle = i1 - i0
    other = max(total - idle - sum(groups), 0)
    with open(out, "w") as f:
        f.write(" ".join(f"{100 * x / total:.1f}" for x in groups + [other, idle]) + "\n")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
