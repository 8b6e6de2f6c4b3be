#!/usr/bin/env python3
"""scripts/bench.sh's PostgreSQL and haproxy side (docs/benchmark.md).

    bench_pg.py why-not pg|haproxy      one line: why the case cannot run; nothing if it can
    bench_pg.py serve BASE_DIR LOG      a durable throwaway PostgreSQL 15 (fsync,
                                        synchronous_commit, full_page_writes on) in
                                        BASE_DIR; prints shell assignments (PG_PORT,
                                        PG_SOCK, PG_PID, PG_PSQL, PG_CONN, PG_SETTINGS),
                                        then PG_READY=1, and keeps it running until
                                        SIGTERM/SIGINT or until its parent dies; then
                                        stops it, copies its log to LOG and removes it
    bench_pg.py ready [--admin P,P] [--haproxy SOCK N]
                                        until every admin port's /readyz answers 200
                                        and haproxy has N servers UP after a check

The cluster is tests/integration/pgcluster.py's, the haproxy shape
tests/integration/cluster.py's. Standard library only."""
import os
import shlex
import shutil
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import pgcluster  # noqa: E402

PASSWORD = "bench-pw"


def haproxy_bin():
    env = os.environ.get("HAPROXY_BIN")  # as tests/integration/cluster.py
    if env:
        return env if os.access(env, os.X_OK) else None
    return shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")


def why_not(what):
    if what == "pg":
        return pgcluster.available() or ""
    if what == "haproxy":
        return "" if haproxy_bin() else "haproxy is not installed (scripts/deps.sh installs it)"
    raise SystemExit(f"bench_pg: why-not pg|haproxy, not {what!r}")


def _stop(signum, frame):
    raise SystemExit(128 + signum)


def serve(base_dir, log_copy):
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # bench.sh's ^C: its trap stops us
        signal.signal(signal.SIGINT, _stop)
    parent = os.getppid()
    pg = pgcluster.PgCluster(password=PASSWORD, durable=True, base_dir=base_dir)
    try:
        pg.start()
        with open(os.path.join(pg.data, "postmaster.pid")) as f:
            postmaster = int(f.readline())
        settings = pg.query("postgres", "SELECT split_part(version(), ' ', 2) || ', ' ||"
                            " string_agg(n || '=' || current_setting(n), ' ' ORDER BY n) FROM"
                            " unnest(ARRAY['fsync', 'synchronous_commit', 'full_page_writes',"
                            " 'shared_buffers']) n")[0][0]
        conn = pg.conninfo().replace(f" dbname={pg.dbname}", "")
        for k, v in (("PG_PORT", pg.port), ("PG_SOCK", pg.dir), ("PG_PID", postmaster),
                     ("PG_PSQL", pg.psql), ("PG_CONN", conn), ("PG_SETTINGS", settings),
                     ("PG_READY", 1)):
            print(f"{k}={shlex.quote(str(v))}", flush=True)
        while os.getppid() == parent:  # bench.sh killed without its trap: stop anyway
            time.sleep(0.5)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if log_copy and pg.dir:
            try:
                shutil.copyfile(pg.log_path, log_copy)
            except OSError:
                pass
        pg.destroy()


def _readyz(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _haproxy_up(sock, n):
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(sock)
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
    except OSError:
        return False
    lines = data.decode(errors="replace").splitlines()
    if not lines or not lines[0].startswith("# "):
        return False
    head = lines[0][2:].split(",")
    rows = [dict(zip(head, line.split(","))) for line in lines[1:] if line]
    up = [r for r in rows if r.get("pxname") == "nodes" and r.get("svname") not in
          ("BACKEND", "FRONTEND") and r.get("status") == "UP" and r.get("check_status") == "L7OK"]
    return len(up) >= n


def ready(args, timeout=60):
    admin, hsock, n = [], None, 0
    while args:
        if args[0] == "--admin":
            admin = [int(p) for p in args[1].split(",") if p]
            args = args[2:]
        elif args[0] == "--haproxy":
            hsock, n = args[1], int(args[2])
            args = args[3:]
        else:
            raise SystemExit(f"bench_pg ready: unknown argument {args[0]!r}")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(_readyz(p) for p in admin) and (hsock is None or _haproxy_up(hsock, n)):
            return 0
        time.sleep(0.05)
    print(f"bench_pg: not ready after {timeout} s (admin {admin}, haproxy {hsock})",
          file=sys.stderr)
    return 1


def main(argv):
    if len(argv) >= 2 and argv[0] == "why-not":
        print(why_not(argv[1]))
        return 0
    if len(argv) == 3 and argv[0] == "serve":
        serve(argv[1], argv[2])
        return 0
    if argv and argv[0] == "ready":
        return ready(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
