"""The admin listener: /healthz, /readyz, /metrics (parsed with the real
Prometheus parser), 404/405, and readiness when the spool cannot write."""
import json
import os
import re
import resource
import socket
import sys
import time
import unittest

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # a non-Debian python3 (pyenv) next to Debian's python3-prometheus-client
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

from harness import HookdCase, base_config, ctct_body, read_lines, read_response, wait_for

ADMIN = 'admin: { listen: "127.0.0.1:0" }\n'
SPOOL = "spool: { path: spool.db, sync: normal }\n"
SRC = "constantcontact"


def admin_port(h):
    m = re.search(r"admin listening on http://127\.0\.0\.1:(\d+)", h.run_log())
    if not m:
        raise AssertionError("no admin listening line:\n" + h.run_log())
    return int(m.group(1))


def admin_get(port, path, method="GET", extra=""):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n".encode())
        resp, _ = read_response(s)
        return resp


def scrape(port):
    r = admin_get(port, "/metrics")
    if r.status != 200:
        raise AssertionError(f"/metrics answered {r}")
    families = list(text_string_to_metric_families(r.body.decode()))
    samples = {}
    for fam in families:
        for s in fam.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return r, families, samples


def val(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


class AdminMetrics(HookdCase):
    def test_endpoints_and_exact_counts(self):
        h = self.hookd(base_config(self.dir, top=ADMIN + SPOOL))
        port = admin_port(h)
        self.assertNotEqual(port, h.port)

        r = admin_get(port, "/healthz")
        self.assertEqual((r.status, r.body), (200, b"ok\n"))
        r = admin_get(port, "/readyz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(admin_get(port, "/nope").status, 404)
        self.assertEqual(admin_get(port, "/webhooks/ctct").status, 404)
        r = admin_get(port, "/metrics", method="POST", extra="Content-Length: 0\r\n")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.headers.get("allow"), "GET")
        self.assertEqual(admin_get(port, "/healthz?probe=1").status, 200)

        # Good requests: 2 tier.increase, 1 account.cancel, 1 of a type not listed.
        types = ["tier.increase", "tier.increase", "account.cancel", "contact.update"]
        for i, t in enumerate(types):
            r = h.post(ctct_body(t, account=f"acct{i}"))
            self.assertEqual(r.status, 200, r)
        body = ctct_body("tier.decrease")
        bad = [  # (request kwargs, reason)
            (dict(headers={"x-ctct-hmac-sha256": "A" * 43 + "="}), "mismatch"),
            (dict(headers={"x-ctct-hmac-sha256": "not base64!"}), "malformed"),
            (dict(sig=False), "missing"),
            (dict(auth=False), "basic_auth"),
            (dict(auth=False, sig=False), "basic_auth"),
        ]
        for kw, _ in bad:
            r = h.post(body, **kw)
            self.assertEqual(r.status, 401, r)
        r = h.post(body, path="/elsewhere")
        self.assertEqual(r.status, 404, r)
        r = h.post(body, method="PUT")
        self.assertEqual(r.status, 405, r)

        wait_for(lambda: len(read_lines(self.events)) == 4, what="4 events delivered")
        wait_for(lambda: val(scrape(port)[2], "hookd_deliveries_total", plugin="audit",
                             result="ok") == 4, what="4 deliveries counted")
        resp, families, s = scrape(port)
        self.assertEqual(resp.headers["content-type"].split(";")[:2], ["text/plain", " version=0.0.4"])

        # Requests by status.
        self.assertEqual(val(s, "hookd_requests_total", source=SRC, status="200"), 4)
        self.assertEqual(val(s, "hookd_requests_total", source=SRC, status="401"), 5)
        self.assertEqual(val(s, "hookd_requests_total", source=SRC, status="405"), 1)
        self.assertEqual(val(s, "hookd_requests_total", source=SRC, status="400"), 0)
        self.assertEqual(val(s, "hookd_requests_total", source="", status="404"), 1)
        # Verify failures by reason.
        want = {"mismatch": 1, "malformed": 1, "missing": 1, "basic_auth": 2, "expired": 0,
                "other": 0}
        for reason, n in want.items():
            self.assertEqual(val(s, "hookd_verify_failures_total", source=SRC, reason=reason), n,
                             reason)
        # Events accepted by type.
        want = {"tier.increase": 2, "account.cancel": 1, "other": 1, "tier.decrease": 0,
                "account.disable": 0}
        for t, n in want.items():
            self.assertEqual(val(s, "hookd_events_accepted_total", source=SRC, type=t), n, t)
        # Deliveries.
        self.assertEqual(val(s, "hookd_deliveries_total", plugin="audit", result="ok"), 4)
        self.assertEqual(val(s, "hookd_deliveries_total", plugin="audit", result="retry"), 0)
        self.assertEqual(val(s, "hookd_deliveries_total", plugin="audit", result="fail"), 0)
        self.assertEqual(val(s, "hookd_dead_letters"), 0)
        # Histograms: +Inf == count, buckets cumulative, counts as expected.
        for name, label, lv, count in [("hookd_request_duration_seconds", "source", SRC, 10),
                                       ("hookd_request_duration_seconds", "source", "", 1),
                                       ("hookd_delivery_duration_seconds", "plugin", "audit", 4)]:
            fam = next(f for f in families if f.name == name)
            self.assertEqual(fam.type, "histogram")
            buckets = sorted(((float(x.labels["le"]), x.value) for x in fam.samples
                              if x.name == name + "_bucket" and x.labels[label] == lv))
            self.assertEqual(len(buckets), 15)
            self.assertEqual([b for b, _ in buckets][:3], [0.0005, 0.001, 0.0025])
            self.assertTrue(all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])))
            self.assertEqual(buckets[-1], (float("inf"), count))
            self.assertEqual(val(s, name + "_count", **{label: lv}), count)
            self.assertGreaterEqual(val(s, name + "_sum", **{label: lv}), 0)
        # Gauges and the rest.
        wait_for(lambda: val(scrape(port)[2], "hookd_deliveries_pending") == 0, what="none pending")
        self.assertGreater(val(s, "hookd_spool_bytes"), 0)
        self.assertIn(("hookd_connections_open", frozenset()), s)
        self.assertEqual(val(s, "hookd_tls_handshake_failures_total"), 0)
        self.assertEqual(val(s, "hookd_reloads_total", result="ok"), 0)
        self.assertEqual(val(s, "hookd_reloads_total", result="failed"), 0)
        for fam in families:
            self.assertTrue(fam.documentation, fam.name)
        # A connection held open to the webhook listener is counted.
        with h.connect() as c:
            c.sendall(b"")
            wait_for(lambda: val(scrape(port)[2], "hookd_connections_open") >= 1,
                     what="an open connection counted")

    def test_admin_limits(self):
        h = self.hookd(base_config(self.dir, top=ADMIN + SPOOL))
        port = admin_port(h)
        # An oversized request is refused, not read forever.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            try:
                s.sendall(b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
                r, _ = read_response(s)
            except (ConnectionResetError, BrokenPipeError):
                r = None  # refused and closed while we were still sending
            if r is not None:
                self.assertEqual(r.status, 431, r)
        # Malformed.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"NOT HTTP\r\n\r\n")
            r, _ = read_response(s)
            self.assertEqual(r.status, 400)
        # Idle connections are closed by the server within a few seconds.
        with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
            t0 = time.time()
            self.assertEqual(s.recv(100), b"")
            self.assertLess(time.time() - t0, 12)
        self.assertEqual(admin_get(port, "/healthz").status, 200)

    def test_admin_listen_in_use_is_a_start_error(self):
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        try:
            taken = blocker.getsockname()[1]
            cfg = base_config(self.dir, top=f'admin: {{ listen: "127.0.0.1:{taken}" }}\n' + SPOOL)
            with open(os.path.join(self.dir, "hookd.yaml"), "w") as f:
                f.write(cfg)
            r = self.run_cli("run", "-c", os.path.join(self.dir, "hookd.yaml"))
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(b"admin.listen", r.stderr)
        finally:
            blocker.close()


class AdminReadiness(HookdCase):
    HEADROOM = 300 * 1024

    def test_readyz_503_while_the_spool_cannot_write(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        if hard != resource.RLIM_INFINITY and hard < 64 << 20:
            self.skipTest(f"RLIMIT_FSIZE hard limit is only {hard}")
        # No route matches: events are stored, nothing is delivered.
        cfg = base_config(self.dir, top=ADMIN + SPOOL,
                          routes='  - { match: "never.*", to: [audit] }\n')
        h = self.hookd(cfg)
        self.assertEqual(h.post(ctct_body()).status, 200)
        self.assertEqual(h.stop(), 0)
        footprint = max(os.path.getsize(os.path.join(self.dir, f)) for f in os.listdir(self.dir))
        limit = footprint + self.HEADROOM

        def small_files():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

        def padded(i):
            return json.dumps({"event_type": "tier.increase", "n": i,
                               "pad": "x" * 20 * 1024}).encode()

        h.preexec_fn = small_files
        h.start()
        port = admin_port(h)
        self.assertEqual(admin_get(port, "/readyz").status, 200)
        full = None
        for i in range(300):
            r = h.post(padded(i))
            self.assertIsNotNone(r)
            if r.status == 503:
                full = r
                break
            self.assertEqual(r.status, 200, r)
        self.assertIsNotNone(full, "the spool never filled up")
        r = admin_get(port, "/readyz")
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.body.count(b"\n"), 1)
        self.assertIn(b"spool", r.body)
        self.assertEqual(admin_get(port, "/healthz").status, 200)  # alive, not ready
        s = scrape(port)[2]
        self.assertGreaterEqual(val(s, "hookd_requests_total", source=SRC, status="503"), 1)

        # Space returns: a commit succeeds, and /readyz says so.
        resource.prlimit(h.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, hard))
        deadline = time.time() + 15
        while time.time() < deadline and h.post(padded(1000)).status != 200:
            time.sleep(0.3)
        wait_for(lambda: admin_get(port, "/readyz").status == 200, what="ready again")


if __name__ == "__main__":
    unittest.main()
