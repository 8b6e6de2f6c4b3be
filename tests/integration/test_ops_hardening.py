"""Issue 15's operations items, as an operator meets them: the admin
listener answers its probes whatever idle, slow or stuck connections are
open; a SIGHUP re-reads the TLS certificate (its expiry is exported and
checked)."""
import datetime
import os
import re
import shutil
import socket
import threading
import time
import unittest

from harness import (SLOW, HookdCase, base_config, cert_der, cert_not_after, ctct_body,
                     make_cert_files, peer_cert_der, read_response, request_bytes)
from test_admin import admin_get, admin_port, scrape, val
from test_reload import hup_and_wait

ADMIN = 'admin: { listen: "127.0.0.1:0" }\n'


def probe_20_times(test, port):
    """/healthz answers 200 promptly, 20 times in a row."""
    for i in range(20):
        t0 = time.monotonic()
        try:
            r = admin_get(port, "/healthz")
        except OSError as e:
            test.fail(f"probe {i}: {e!r}")
        test.assertIsNotNone(r, f"probe {i}: closed unanswered")
        test.assertEqual(r.status, 200, r)
        test.assertLess(time.monotonic() - t0, 1.0 * SLOW, f"probe {i} was slow")


class AdminProbes(HookdCase):
    def test_idle_connections_do_not_starve_probes(self):
        h = self.hookd(base_config(self.dir, top=ADMIN))
        port = admin_port(h)
        held = []
        try:
            for i in range(64):
                s = socket.create_connection(("127.0.0.1", port))
                if i % 4 == 0:
                    s.sendall(b"GET /heal")  # a slow sender, never finishing
                held.append(s)
            time.sleep(0.2)
            probe_20_times(self, port)
        finally:
            for s in held:
                s.close()

    def test_idle_and_dribbling_connections_do_not_starve_probes(self):
        """64 idle connections plus 16 that keep sending a byte now and then,
        reopened as soon as they are closed: probes still get through."""
        h = self.hookd(base_config(self.dir, top=ADMIN))
        port = admin_port(h)
        stop = threading.Event()
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]

        def dribbler():
            while not stop.is_set():
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                        for b in b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 1000:
                            if stop.wait(0.05):
                                return
                            s.sendall(bytes([b]))
                except OSError:
                    pass
        threads = [threading.Thread(target=dribbler) for _ in range(16)]
        try:
            for t in threads:
                t.start()
            time.sleep(0.5)
            probe_20_times(self, port)
        finally:
            stop.set()
            for t in threads:
                t.join()
            for s in held:
                s.close()


def install(src_cert, src_key, cert, key):
    """Puts a certificate and key in place the way certbot's deploy does:
    each file replaced whole (rename), the key first."""
    for src, dst in ((src_key, key), (src_cert, cert)):
        shutil.copyfile(src, dst + ".new")
        os.replace(dst + ".new", dst)


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class TlsCertificate(HookdCase):
    def setUp(self):
        super().setUp()
        self.a = make_cert_files(self.dir, "a", 2)    # about to lapse
        self.b = make_cert_files(self.dir, "b", 30)   # its renewal
        self.c = make_cert_files(self.dir, "c", 30)   # c's key matches nothing else
        self.cert, self.key = os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem")
        tls = f"  tls: {{ cert: {self.cert}, key: {self.key} }}\n"
        self.cfg = base_config(self.dir, top=ADMIN, extra_server=tls)

    def post_on(self, sock):
        sock.sendall(request_bytes(ctct_body()))
        r, _ = read_response(sock)
        self.assertIsNotNone(r, "closed unanswered")
        self.assertEqual(r.status, 200, r)

    def expiry_gauge(self, h):
        return val(scrape(admin_port(h))[2], "hookd_tls_cert_expiry_seconds")

    def test_sighup_rereads_the_certificate(self):
        install(*self.a, self.cert, self.key)
        h = self.hookd(self.cfg, tls=True)
        self.assertEqual(self.expiry_gauge(h), cert_not_after(self.a[0]))
        old = h.connect()
        self.addCleanup(old.close)
        self.assertEqual(peer_cert_der(old), cert_der(self.a[0]))
        self.post_on(old)

        # Renewed: new handshakes get B, the connection open keeps working.
        install(*self.b, self.cert, self.key)
        hup_and_wait(h, "reloaded")
        self.assertNotIn("server.tls changed", h.run_log())
        with h.connect() as s:
            self.assertEqual(peer_cert_der(s), cert_der(self.b[0]))
            self.post_on(s)
        self.post_on(old)
        self.assertEqual(self.expiry_gauge(h), cert_not_after(self.b[0]))
        self.assertIn(f"certificate CN=localhost, expires {iso(cert_not_after(self.b[0]))}",
                      h.run_log())

        # A key that does not match: B stays, and the log says why.
        install(self.b[0], self.c[1], self.cert, self.key)
        hup_and_wait(h, "reloaded", count=1)
        self.assertRegex(h.run_log(), r"reload: server\.tls: the key does not match the "
                                      r"certificate; keeping the running certificate")
        with h.connect() as s:
            self.assertEqual(peer_cert_der(s), cert_der(self.b[0]))
            self.post_on(s)
        self.assertEqual(self.expiry_gauge(h), cert_not_after(self.b[0]))

        # A file that is no certificate: the same.
        with open(self.cert, "w") as f:
            f.write("not a certificate\n")
        hup_and_wait(h, "keeping the running certificate", count=1)
        self.assertRegex(h.run_log(), r"reload: server\.tls\.cert: cannot load \S+cert\.pem")
        with h.connect() as s:
            self.assertEqual(peer_cert_der(s), cert_der(self.b[0]))
        self.post_on(old)

    def test_changed_paths_are_read_by_a_reload(self):
        install(*self.a, self.cert, self.key)
        h = self.hookd(self.cfg, tls=True)
        tls = f"  tls: {{ cert: {self.b[0]}, key: {self.b[1]} }}\n"
        h.write_config(base_config(self.dir, top=ADMIN, extra_server=tls))
        hup_and_wait(h, "reloaded")
        self.assertNotIn("changed: that needs a restart", h.run_log())
        with h.connect() as s:
            self.assertEqual(peer_cert_der(s), cert_der(self.b[0]))
        self.assertEqual(self.expiry_gauge(h), cert_not_after(self.b[0]))
        # Turning TLS off still needs a restart.
        h.write_config(base_config(self.dir, top=ADMIN))
        hup_and_wait(h, "reloaded")
        self.assertIn("server.tls changed: that needs a restart", h.run_log())
        with h.connect() as s:
            self.assertEqual(peer_cert_der(s), cert_der(self.b[0]))

    def test_plain_http_has_no_expiry_gauge(self):
        h = self.hookd(base_config(self.dir, top=ADMIN))
        self.assertNotIn("hookd_tls_cert_expiry_seconds",
                         admin_get(admin_port(h), "/metrics").body.decode())

    def test_check_prints_the_expiry(self):
        install(*self.b, self.cert, self.key)
        with open(os.path.join(self.dir, "hookd.yaml"), "w") as f:
            f.write(self.cfg)
        r = self.run_cli("check", "-c", os.path.join(self.dir, "hookd.yaml"))
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"^tls: on, certificate CN=localhost, expires (\S+) \(in (\d+) days\)$",
                      r.stdout.decode(), re.M)
        self.assertIsNotNone(m, r.stdout)
        self.assertEqual(m.group(1), iso(cert_not_after(self.b[0])))
        self.assertIn(int(m.group(2)), (29, 30))
        # A pair that would not load is a configuration error.
        install(self.b[0], self.c[1], self.cert, self.key)
        r = self.run_cli("check", "-c", os.path.join(self.dir, "hookd.yaml"))
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn(b"server.tls: the key does not match the certificate", r.stderr)


if __name__ == "__main__":
    unittest.main()
