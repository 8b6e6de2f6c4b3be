#!/usr/bin/env python3
"""Checks the shape of the tree (docs/DESIGN.md §2).

  scripts/layers.py [BUILD_DIR]

1. Includes point down the list of layers below: a file may include its own
   folder, the folders after its own, common/ and include/hookd -- never a
   folder before it. common/ includes nothing else of hookd, base/ only
   common/ (the bottom of the tree, compiled into the plugins too); a
   plugin includes only common/ and include/hookd; only cli/ and main.c
   include a cli/ header.
2. No two files include each other (no include cycle of any length).
3. With BUILD_DIR (a configured and built tree): no files of the core call
   each other in a loop (two or more), read from the symbols of the object
   files (nm), and no cycle of calls between folders.
Prints each breach on one line and exits 1 if there is any; prints the
folder graph with the line counts of each folder either way.
"""
import os, re, subprocess, sys
from collections import defaultdict

# Top to bottom: a folder may depend only on folders after it.
LAYERS = ['cli', 'daemon', 'ingest', 'net', 'spool', 'deliver', 'verify',
          'config', 'ctct', 'base']
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder(rel):
    """'core/net/server.c' -> 'net'; 'core/main.c' -> 'main'; 'common/x' -> 'common'."""
    parts = rel.split('/')
    if parts[0] == 'core':
        return 'main' if len(parts) == 2 else parts[1]
    if parts[0] == 'plugins':
        return 'plugin:' + parts[1]
    return parts[0]


def sources():
    out = []
    for top in ('core', 'common', 'plugins'):
        for dp, _, fn in os.walk(os.path.join(ROOT, top)):
            for f in sorted(fn):
                if f.endswith(('.c', '.h')):
                    out.append(os.path.relpath(os.path.join(dp, f), ROOT))
    return sorted(out)


def resolve(rel, name):
    """Where #include "name" of file rel lands (its own folder first, then the
    include path: core/, the top, include/), or None outside the tree."""
    for base in (os.path.dirname(rel), 'core', '.', 'include'):
        cand = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(os.path.join(ROOT, cand)):
            return cand
    return None


def rank(f):
    return LAYERS.index(f) if f in LAYERS else None


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1
        stack.append(v); on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def check_includes(files, bad):
    inc = defaultdict(set)
    fgraph = defaultdict(set)
    for rel in files:
        src = open(os.path.join(ROOT, rel), encoding='utf-8').read()
        me = folder(rel)
        for name in INC.findall(src):
            tgt = resolve(rel, name)
            if tgt is None:
                continue
            inc[rel].add(tgt)
            them = folder(tgt)
            if them == 'include' or them == me:
                continue
            if me == 'common' or (me == 'base' and them != 'common'):
                bad.append('%s: %s/ includes %s (only common/ is below it)' % (rel, me, tgt))
            elif me.startswith('plugin:'):
                if them != 'common':
                    bad.append('%s: a plugin includes %s (only common/ and include/hookd)' % (rel, tgt))
            elif them == 'cli' and me not in ('cli', 'main'):
                bad.append('%s: includes %s (only cli/ and main.c include cli/)' % (rel, tgt))
            elif them != 'common' and me != 'main':
                if rank(me) is None or rank(them) is None or rank(them) < rank(me):
                    bad.append('%s: %s/ includes %s, a layer above it' % (rel, me, tgt))
            if me != them:
                fgraph[me].add(them)
    for comp in cycles(inc):
        bad.append('include cycle: ' + ' -> '.join(comp))
    for comp in cycles(fgraph):
        bad.append('folder include cycle: ' + ' <-> '.join(comp))
    return fgraph


def check_calls(build, files, bad):
    """Which object defines each symbol; which objects use it."""
    objs = {}
    for dp, _, fn in os.walk(build):
        for f in fn:
            if not f.endswith('.c.o') or 'hookd_core.dir' not in dp:
                continue
            path = os.path.join(dp, f)
            tail = path.split('hookd_core.dir/', 1)[1][:-2]  # e.g. core/net/server.c
            if tail not in files:
                continue  # left behind by an older tree
            objs[tail] = path
    if not objs:
        bad.append('%s: no object files of hookd_core (build it first)' % build)
        return
    defs, uses = {}, defaultdict(set)
    for rel, path in objs.items():
        out = subprocess.run(['nm', path], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in 'TDBR':
                defs[parts[2]] = rel
            elif len(parts) == 2 and parts[0] == 'U':
                uses[rel].add(parts[1])
    calls, fcalls = defaultdict(set), defaultdict(set)
    for rel, syms in uses.items():
        for s in syms:
            d = defs.get(s)
            if d and d != rel:
                calls[rel].add(d)
                me, them = folder(rel), folder(d)
                if me != them:
                    fcalls[me].add(them)
                    if them != 'common' and (rank(me) is None or rank(them) is None
                                             or rank(them) < rank(me)):
                        bad.append('%s calls %s of %s, a layer above it' % (rel, s, d))
    for comp in cycles(calls):
        bad.append('files call each other: ' + ' -> '.join(comp))
    for comp in cycles(fcalls):
        bad.append('folder call cycle: ' + ' <-> '.join(comp))


def main():
    files = sources()
    bad = []
    fgraph = check_includes(files, bad)
    if len(sys.argv) > 1:
        check_calls(sys.argv[1], files, bad)
    lines = defaultdict(int)
    for rel in files:
        lines[folder(rel)] += sum(1 for _ in open(os.path.join(ROOT, rel), encoding='utf-8'))
    for f in ['main'] + LAYERS + ['common']:
        print('%-8s %6d lines -> %s' % (f, lines[f], ' '.join(
            x for x in LAYERS + ['common'] if x in fgraph.get(f, ())) or '-'))
    for rel in files:
        n = sum(1 for _ in open(os.path.join(ROOT, rel), encoding='utf-8'))
        if n > 800:
            bad.append('%s: %d lines (over 800)' % (rel, n))
    for b in bad:
        print('layers: ' + b)
    print('layers: %s' % ('%d problem(s)' % len(bad) if bad else 'ok'))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
