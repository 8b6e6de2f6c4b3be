#!/usr/bin/env python3
"""A stand-in for hookd's admin listener to develop and test the console page
without the server: serves console/{index.html,console.css,console.js} and
canned answers of the JSON API (docs: /work/wt/API.md, later docs/console.md).

    python3 tests/integration/console_mock.py [--port 9099] [--token T]

Extras for tests (not part of the API): GET /mock/posts lists the POSTs
received (path, headers, body); POST /mock/fail {"status": 503} makes every
/api answer that status until POST /mock/fail {"status": 0}.

One event (XSS_ID) holds `<img src=x onerror=alert(1)>` in its source, type,
headers, body, enrichment and delivery reasons; so do a dead letter and a
refusal: the page must show it as text.
"""
import argparse
import json
import os
import sys
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "console")
FILES = {"/": ("index.html", "text/html; charset=utf-8"),
         "/index.html": ("index.html", "text/html; charset=utf-8"),
         "/console.css": ("console.css", "text/css; charset=utf-8"),
         "/console.js": ("console.js", "text/javascript; charset=utf-8")}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
XSS = "<img src=x onerror=alert(1)>"
XSS_ID = "01JXSS0000000000000000XSS1"
NOW = datetime(2026, 12, 6, 19, 0, 0, tzinfo=timezone.utc)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z" if t else None


class State:
    """The canned spool: 120 events (newest first), some delivered, some
    pending, some dead; replays move dead deliveries back to pending."""

    def __init__(self):
        self.lock = threading.Lock()
        self.fail = 0
        self.posts = []
        self.events = []
        for i in range(120):
            at = NOW - timedelta(seconds=37 * i)
            eid = f"01JMOCK{i:019d}"
            src = "ctct" if i % 3 else "github"
            typ = ["tier.increase", "account.cancel", "push", "contact.update"][i % 4]
            dels = [self.delivery(i * 10 + 1, "file1", "delivered", at, 1)]
            if i % 7 == 0:
                dels.append(self.delivery(i * 10 + 2, "forward1", "dead", at, 5))
            elif i % 5 == 0:
                dels.append(self.delivery(i * 10 + 2, "forward1", "pending", at, 2))
            self.events.append({"id": eid, "source": src, "type": typ, "received_at": iso(at),
                                "headers": {"content-type": "application/json",
                                            "authorization": "[masked]",
                                            "user-agent": "mock/1.0"},
                                "body": json.dumps({"n": i, "type": typ}), "body_base64": None,
                                "enrichment": {"account": f"acct{i}"} if src == "ctct" else None,
                                "deliveries": dels})
        at = NOW - timedelta(seconds=5)
        xss_dels = [self.delivery(9001, XSS, "dead", at, 3, reason=XSS),
                    self.delivery(9002, "file1", "delivered", at, 1)]
        self.events.insert(0, {
            "id": XSS_ID, "source": XSS, "type": XSS, "received_at": iso(at),
            "headers": {"content-type": "text/html", "x-evil": XSS, XSS: "name too"},
            "body": XSS + "\n</pre><script>alert(2)</script>", "body_base64": None,
            "enrichment": {"note": XSS}, "deliveries": xss_dels})
        self.events.insert(1, {
            "id": "01JBIN0000000000000000BIN1", "source": "ctct", "type": "binary",
            "received_at": iso(at - timedelta(seconds=1)), "headers": {"content-type": "application/octet-stream"},
            "body": None, "body_base64": "AAEC/w==", "enrichment": None, "deliveries": []})
        self.refusals = [{"at": iso(NOW - timedelta(seconds=11 * i)),
                          "source": "ctct" if i % 2 else None, "peer": "127.0.0.1",
                          "status": 401 if i % 3 else 413,
                          "check": "signature" if i % 3 else "size",
                          "reason": "signature mismatch" if i % 3 else "body over 1 MiB"}
                         for i in range(30)]
        self.refusals.insert(0, {"at": iso(NOW), "source": XSS, "peer": "10.0.0.9", "status": 401,
                                 "check": "auth", "reason": XSS})

    @staticmethod
    def delivery(did, plugin, state, at, attempts, reason=None):
        hist = []
        for n in range(1, attempts + 1):
            last = n == attempts
            result = "ok" if state == "delivered" and last else ("fail" if state == "dead" and last else "retry")
            started = at + timedelta(seconds=2 ** n)
            hist.append({"n": n, "started_at": iso(started), "duration_ms": 3 * n, "result": result,
                         "reason": None if result == "ok" else (reason or f"HTTP 502 from upstream (try {n})"),
                         "retry_at": iso(started + timedelta(seconds=2 ** (n + 1))) if result == "retry" else None})
        return {"id": did, "plugin": plugin, "state": state, "attempts": attempts,
                "next_at": iso(at + timedelta(minutes=5)) if state == "pending" else None,
                "updated_at": iso(at + timedelta(seconds=2 ** attempts)),
                "reason": hist[-1]["reason"] if hist and state != "delivered" else None, "history": hist}

    def summary(self, e):
        c = {"pending": 0, "delivered": 0, "dead": 0}
        for d in e["deliveries"]:
            c[d["state"]] = c.get(d["state"], 0) + 1
        st = "dead" if c["dead"] else "pending" if c["pending"] else "delivered" if c["delivered"] else "none"
        return {"id": e["id"], "source": e["source"], "type": e["type"], "received_at": e["received_at"],
                "status": st, "deliveries": c}

    def dead_rows(self):
        rows = []
        for e in self.events:
            for d in e["deliveries"]:
                if d["state"] == "dead":
                    rows.append({"delivery": d["id"], "event": e["id"], "source": e["source"], "type": e["type"],
                                 "plugin": d["plugin"], "attempts": d["attempts"], "reason": d["reason"],
                                 "at": d["updated_at"]})
        rows.sort(key=lambda r: r["at"])
        return rows

    def stats(self):
        sums = [self.summary(e) for e in self.events]
        plugins = {}
        for e in self.events:
            for d in e["deliveries"]:
                p = plugins.setdefault(d["plugin"], {"name": d["plugin"], "plugin": d["plugin"].rstrip("1"),
                                                     "delivered": 0, "pending": 0, "dead": 0,
                                                     "ok_1h": 0, "failed_1h": 0})
                p[d["state"]] += 1
                p["ok_1h" if d["state"] == "delivered" else "failed_1h"] += 1
        plugins.setdefault("email1", {"name": "email1", "plugin": "email", "delivered": 0, "pending": 0,
                                      "dead": 0, "ok_1h": 0, "failed_1h": 0})
        pending = sum(1 for e in self.events for d in e["deliveries"] if d["state"] == "pending")
        return {"node": "mock", "driver": "sqlite", "now": iso(NOW), "started_at": iso(NOW - timedelta(hours=3)),
                "received": len(sums), "refused": {"auth": 1, "signature": 20, "size": 10},
                "pending": pending, "retrying": pending, "dead": len(self.dead_rows()),
                "oldest_pending_at": iso(NOW - timedelta(minutes=12)) if pending else None,
                "plugins": list(plugins.values()),
                "per_minute": {"start": iso(NOW - timedelta(minutes=59)),
                               "counts": [(i * 7) % 13 + (20 if i == 50 else 0) for i in range(60)]}}


def page(rows, q, default=50):
    try:
        limit = max(1, min(500, int(q.get("limit", [default])[0])))
        start = int(q.get("cursor", ["0"])[0])
    except ValueError:
        return None
    part = rows[start:start + limit]
    nxt = str(start + limit) if start + limit < len(rows) else None
    return part, nxt


class Handler(BaseHTTPRequestHandler):
    state = None
    token = None
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if os.environ.get("CONSOLE_MOCK_LOG"):
            super().log_message(fmt, *args)

    def send(self, status, data, ctype="application/json; charset=utf-8", extra=()):
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    def err(self, status, msg, extra=()):
        self.send(status, {"error": msg}, extra=extra)

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, method):
        u = urlsplit(self.path)
        path, q = u.path, parse_qs(u.query)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        st = self.state
        if path in FILES and method == "GET":
            name, ctype = FILES[path]
            with open(os.path.join(ROOT, name), "rb") as f:
                return self.send(200, f.read(), ctype)
        if path == "/mock/posts":
            with st.lock:
                return self.send(200, st.posts)
        if path == "/mock/fail" and method == "POST":
            st.fail = int(json.loads(raw or b"{}").get("status", 0))
            return self.send(200, {"fail": st.fail})
        if not path.startswith("/api/v1/"):
            return self.err(404, "no such path")
        if self.token and self.headers.get("Authorization") != "Bearer " + self.token:
            return self.err(401, "a valid admin token is needed", [("WWW-Authenticate", "Bearer")])
        if st.fail:
            return self.err(st.fail, "spool unreachable" if st.fail == 503 else "mock failure")
        parts = [unquote(p) for p in path[len("/api/v1/"):].split("/")]
        if method == "POST":
            if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
                return self.err(415, "a POST needs Content-Type: application/json")
            if self.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
                return self.err(403, "cross-site request refused")
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return self.err(400, "the body is not JSON")
            with st.lock:
                st.posts.append({"path": path, "body": body, "headers": dict(self.headers)})
                return self.post(parts, body)
        with st.lock:
            return self.get(parts, q)

    def get(self, parts, q):
        st = self.state
        if parts == ["stats"]:
            return self.send(200, st.stats())
        if parts == ["events"]:
            f = {k: q.get(k, [""])[0] for k in ("source", "type", "status")}
            rows = [st.summary(e) for e in st.events]
            for k in ("source", "status"):
                if f[k]:
                    rows = [r for r in rows if r[k] == f[k]]
            if f["type"]:
                t = f["type"]
                rows = [r for r in rows if (r["type"].startswith(t[:-1]) if t.endswith("*") else r["type"] == t)]
            pg = page(rows, q)
            if pg is None:
                return self.err(400, "bad limit or cursor")
            return self.send(200, {"events": pg[0], "next": pg[1]})
        if len(parts) == 2 and parts[0] == "events":
            for e in st.events:
                if e["id"] == parts[1]:
                    return self.send(200, e)
            return self.err(404, "no such event")
        if parts == ["dead"]:
            rows = st.dead_rows()
            for k in ("plugin", "source", "type"):
                v = q.get(k, [""])[0]
                if v:
                    rows = [r for r in rows if r[k] == v]
            pg = page(rows, q)
            if pg is None:
                return self.err(400, "bad limit or cursor")
            return self.send(200, {"dead": pg[0], "next": pg[1]})
        if parts == ["refusals"]:
            pg = page(st.refusals, q, 200)
            return self.send(200, {"refusals": pg[0] if pg else st.refusals})
        return self.err(404, "no such path")

    def post(self, parts, body):
        st = self.state
        if len(parts) == 3 and parts[0] == "events" and parts[2] == "replay":
            for e in st.events:
                if e["id"] == parts[1]:
                    only = body.get("plugins")
                    n = 0
                    for d in e["deliveries"]:
                        if d["state"] != "pending" and (not only or d["plugin"] in only):
                            d["state"], d["next_at"], n = "pending", iso(NOW), n + 1
                    return self.send(200, {"replayed": n})
            return self.err(404, "no such event")
        if parts == ["dead", "replay"]:
            ids = body.get("deliveries")
            n = 0
            for e in st.events:
                for d in e["deliveries"]:
                    if d["state"] != "dead":
                        continue
                    if ids is not None:
                        hit = d["id"] in ids
                    else:
                        row = {"plugin": d["plugin"], "source": e["source"], "type": e["type"]}
                        hit = all(row[k] == body[k] for k in ("plugin", "source", "type") if body.get(k))
                    if hit:
                        d["state"], d["next_at"], n = "pending", iso(NOW), n + 1
            return self.send(200, {"replayed": n})
        return self.err(404, "no such path")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A browser closing a kept-alive connection is not worth a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def start(port=0, token=None):
    """Start the mock in a thread; returns (server, base URL). Stop with server.shutdown()."""
    handler = type("MockHandler", (Handler,), {"state": State(), "token": token})
    srv = Server(("127.0.0.1", port), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=9099)
    ap.add_argument("--token", default=None, help="require this bearer token on /api")
    a = ap.parse_args()
    srv, url = start(a.port, a.token)
    print(f"console mock on {url}/" + (f"#token={a.token}" if a.token else ""), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        srv.shutdown()


if __name__ == "__main__":
    main()
