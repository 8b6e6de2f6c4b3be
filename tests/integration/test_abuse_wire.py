"""Abuse by malformed traffic, against the real binary over real sockets:
garbage, truncated and renegotiating TLS handshakes, HTTP/1.0, absolute-form
targets, other HTTP versions, Host rules, header floods and a 1 GiB chunked
body. Every test checks the answer, and that service goes on."""
import os
import re
import socket
import subprocess
import threading
import time
import unittest

from abuse import (ADMIN, ASAN, ASAN_ENV, SLOWER, TIMEOUTS, MiB, alive_and_serving,
                   assert_rss_growth, client_hello, rss_kib, stream_until_answer,
                   tls_failures, wait_closed)
from harness import (HookdCase, basic, ctct_body, ctct_sig, make_cert, peer_closed,
                     read_lines, read_response, request_bytes, wait_for)


class Tls(HookdCase):
    def setUp(self):
        super().setUp()
        cert, key = make_cert(self.dir)
        self.h = self.hookd(tls=True, top=ADMIN,
                            extra_server=f"  tls: {{ cert: {cert}, key: {key} }}\n" + TIMEOUTS)
        alive_and_serving(self, self.h)

    def raw(self):
        return socket.create_connection(("127.0.0.1", self.h.port), timeout=10)

    def test_garbage_handshakes(self):
        h = self.h
        before = tls_failures(h)
        shapes = {
            "random bytes": os.urandom(2048),
            "plain HTTP": request_bytes(ctct_body()),
            "SSLv2-style hello": b"\x80\x2e\x01\x00\x02" + os.urandom(45),
            "oversized record": b"\x16\x03\x01\xff\xff" + os.urandom(300),
            "alert first": b"\x15\x03\x03\x00\x02\x02\x28",
            "zeros": b"\x00" * 1024,
        }
        for name, junk in shapes.items():
            with self.subTest(name), self.raw() as s:
                s.sendall(junk)
                took, got = wait_closed(s, 2 + 8 * SLOWER)
                self.assertIsNotNone(took, f"{name}: connection still open")
                self.assertFalse(got.startswith(b"HTTP/"), f"{name}: answered in plain text")
        alive_and_serving(self, h)
        # Each of them is a handshake that failed.
        self.assertGreaterEqual(tls_failures(h) - before, len(shapes))

    def test_truncated_client_hello(self):
        h = self.h
        hello = client_hello()
        with self.raw() as s:
            s.sendall(hello[:50])
            start = time.monotonic()
            # Meanwhile the daemon serves others: it does not wait on this one.
            alive_and_serving(self, h)
            took, got = wait_closed(s, 2 + 8 * SLOWER)
            self.assertIsNotNone(took, "a truncated ClientHello held the connection open")
            print(f"\n  truncated ClientHello closed {time.monotonic() - start:.1f}s after it was sent",
                  flush=True)
            self.assertNotIn(b"HTTP/", got)
        # A whole ClientHello and then silence: the header timeout ends it too.
        with self.raw() as s:
            s.sendall(hello)
            took, got = wait_closed(s, 2 + 8 * SLOWER)
            self.assertIsNotNone(took, "a stalled handshake held the connection open")
            self.assertTrue(got.startswith(b"\x16\x03"), got[:16])  # the ServerHello flight
        alive_and_serving(self, h)

    def test_handshake_timeout_counts_as_failed_handshake(self):
        """hookd_tls_handshake_failures_total: "TLS connections closed before
        their handshake completed" -- the header timeout closing a half-done
        handshake is one of them."""
        h = self.h
        before = tls_failures(h)
        with self.raw() as s:
            s.sendall(client_hello()[:50])
            took, _ = wait_closed(s, 2 + 8 * SLOWER)
            self.assertIsNotNone(took)
        wait_for(lambda: tls_failures(h) > before, 5, "the timed-out handshake to be counted")

    def test_client_renegotiation_refused(self):
        h = self.h
        p = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{h.port}",
                              "-tls1_2", "-msg", "-servername", "localhost"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        lines = []

        def reader():
            for line in p.stdout:
                lines.append(line.decode("latin-1"))
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        try:
            wait_for(lambda: any("Verify return code" in l for l in lines) and
                     lines[-1].startswith("---"), 15, "the TLS 1.2 handshake")
            out = "".join(lines)
            self.assertIn("Protocol  : TLSv1.2", out)
            p.stdin.write(b"R\n")  # s_client: renegotiate
            p.stdin.flush()
            try:
                rc = p.wait(10 * SLOWER)
            except subprocess.TimeoutExpired:
                rc = None
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            t.join(5)
            p.stdin.close()
            p.stdout.close()
        out = "".join(lines)
        self.assertIn("RENEGOTIATING", out, "the client never tried")
        server_hellos = re.findall(r"^<<< .*ServerHello\b", out, re.M)
        self.assertEqual(len(server_hellos), 1, "the server renegotiated:\n" + out[-3000:])
        self.assertIsNotNone(rc, "the connection stayed open after the refused renegotiation")
        self.assertRegex(out, r"no.renegotiation|handshake.failure", out[-2000:])
        alive_and_serving(self, h)


# ---------- request shapes ----------

class RequestShapes(HookdCase):
    def setUp(self):
        super().setUp()
        self.h = self.hookd(extra_server="  timeouts: { header: 2s, body: 2s, idle: 10s }\n")

    def signed(self, body, request_line, headers=None, host=True):
        h = {"Host": "localhost"} if host else {}
        h.update({"Content-Type": "application/json", "Content-Length": str(len(body)),
                  "Authorization": basic(), "x-ctct-hmac-sha256": ctct_sig(body)})
        h.update(headers or {})
        return (request_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
                + "\r\n").encode() + body

    def test_http10_closes_after_answer(self):
        body = ctct_body("tier.decrease")
        for host in (True, False):  # Host is not required of HTTP/1.0
            with self.subTest(host=host), self.h.connect() as s:
                s.sendall(self.signed(body, "POST /webhooks/ctct HTTP/1.0", host=host))
                r, _ = read_response(s)
                self.assertIsNotNone(r)
                self.assertEqual(r.status, 200, r)
                self.assertRegex(r.json()["id"], r"^[0-9A-Z]{26}$")
                # No keep-alive by default in HTTP/1.0: closed now, not at the
                # idle timeout (10 s).
                self.assertEqual(r.headers.get("connection", "").lower(), "close")
                self.assertTrue(peer_closed(s, 4), "HTTP/1.0 connection kept open")
        wait_for(lambda: len(read_lines(self.events)) == 2, what="two events")

    def test_http10_keep_alive(self):
        body = ctct_body()
        with self.h.connect() as s:
            s.sendall(self.signed(body, "POST /webhooks/ctct HTTP/1.0",
                                  headers={"Connection": "keep-alive"}))
            r, rest = read_response(s)
            self.assertIsNotNone(r)
            self.assertEqual(r.status, 200, r)
            if r.headers.get("connection", "").lower() == "close":
                self.assertTrue(peer_closed(s, 4), "said close but stayed open")
                n = 1
            else:  # persistent, as the answer says: a second request is served
                s.sendall(self.signed(body, "POST /webhooks/ctct HTTP/1.0",
                                      headers={"Connection": "keep-alive"}))
                r, _ = read_response(s, rest)
                self.assertIsNotNone(r, "kept open but the second request was not answered")
                self.assertEqual(r.status, 200, r)
                n = 2
        wait_for(lambda: len(read_lines(self.events)) == n, what=f"{n} events")

    def test_other_http_versions_refused(self):
        """Only HTTP/1.x is spoken here: a request line claiming 2.0 (or 3.0)
        gets 505 and nothing is stored."""
        for version in ("HTTP/2.0", "HTTP/3.0"):
            r = self.h.send(self.signed(ctct_body(), f"POST /webhooks/ctct {version}"))
            self.assertIsNotNone(r, version)
            self.assertEqual(r.status, 505, (version, r))
        self.assertEqual(read_lines(self.events), [])
        alive_and_serving(self, self.h)

    def test_absolute_form(self):
        """RFC 9112 3.2.2: a server MUST accept the absolute form."""
        targets = ["http://localhost/webhooks/ctct",
                   f"http://127.0.0.1:{self.h.port}/webhooks/ctct?via=proxy",
                   "HTTP://LOCALHOST/webhooks/ctct"]
        for i, target in enumerate(targets):
            with self.subTest(target=target):
                r = self.h.send(self.signed(ctct_body("account.disable", f"abs{i}"),
                                            f"POST {target} HTTP/1.1"))
                self.assertIsNotNone(r)
                self.assertEqual(r.status, 200, r)
        lines = wait_for(lambda: len(read_lines(self.events)) == 3 and read_lines(self.events),
                         what="three events")
        self.assertEqual(sorted(l["body"]["url"].split("/")[-2] for l in lines),
                         ["abs0", "abs1", "abs2"])
        self.assertEqual({l["type"] for l in lines}, {"account.disable"})
        # The path inside the absolute form is what is routed.
        r = self.h.send(self.signed(ctct_body(), "POST http://localhost/nope HTTP/1.1"))
        self.assertEqual(r.status, 404, r)
        r = self.h.send(self.signed(ctct_body(), "GET http://localhost/webhooks/ctct HTTP/1.1"))
        self.assertEqual(r.status, 405, r)

    def test_http11_host_rules(self):
        """RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request
        without Host, with more than one Host, or with an invalid Host."""
        body = ctct_body()
        shapes = {"no Host": request_bytes(body, headers={"Host": None}),
                  "two Host": request_bytes(body, headers={"Host": "localhost\r\nHost: evil"}),
                  "bad Host": request_bytes(body, headers={"Host": "local host"})}
        for name, raw in shapes.items():
            with self.subTest(name):
                r = self.h.send(raw)
                self.assertIsNotNone(r, "closed without an answer")
                self.assertEqual(r.status, 400, r)
        time.sleep(0.2)
        self.assertEqual(read_lines(self.events), [])

    def test_too_many_header_fields(self):
        extra = {f"X-H{i}": "1" for i in range(200)}
        with self.h.connect() as s:
            s.sendall(request_bytes(ctct_body(), headers=extra))
            r, _ = read_response(s)
            self.assertIsNotNone(r, "closed without an answer")
            self.assertEqual(r.status, 431, r)
            self.assertTrue(peer_closed(s, 5), "connection left open after the 431")
        alive_and_serving(self, self.h)

    def test_headers_over_max_header(self):
        # default max_header: 16 KiB
        shapes = {"many fields": {f"X-Pad{i}": "p" * 1000 for i in range(20)},
                  "one field": {"X-Big": "b" * (20 * 1024)},
                  "long target": None}
        for name, extra in shapes.items():
            with self.subTest(name), self.h.connect() as s:
                if extra is None:
                    raw = request_bytes(ctct_body(), path="/webhooks/ctct?" + "q" * (20 * 1024))
                else:
                    raw = request_bytes(ctct_body(), headers=extra)
                s.sendall(raw)
                r, _ = read_response(s)
                self.assertIsNotNone(r, "closed without an answer")
                self.assertEqual(r.status, 431, r)
                self.assertTrue(peer_closed(s, 5), "connection left open after the 431")
        alive_and_serving(self, self.h)
        time.sleep(0.2)
        self.assertEqual(len(read_lines(self.events)), 1)

    def test_megabyte_header_flood(self):
        """A sender that keeps sending header bytes far past max_header still
        gets its 431 (not a reset that swallows it)."""
        with self.h.connect() as s:
            s.sendall(b"POST /webhooks/ctct HTTP/1.1\r\nHost: x\r\n")
            r = stream_until_answer(s, b"X-Flood: " + b"f" * 4000 + b"\r\n", 64 * MiB)
            self.assertIsNotNone(r.response, f"no answer; {r}")
            self.assertEqual(r.response.status, 431, r)
            self.assertLess(r.sent, 16 * MiB, r)
        alive_and_serving(self, self.h)



class HugeChunkedBody(HookdCase):
    def test_one_gib_chunked_body(self):
        h = self.hookd(extra_server="  max_body: 1MiB\n" + TIMEOUTS, env=ASAN_ENV)
        alive_and_serving(self, h)
        rss0 = rss_kib(h.pid)
        chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"  # 64 KiB chunks
        body = ctct_body()
        with h.connect() as s:
            s.sendall(f"POST /webhooks/ctct HTTP/1.1\r\nHost: localhost\r\n"
                      f"Transfer-Encoding: chunked\r\nAuthorization: {basic()}\r\n"
                      f"x-ctct-hmac-sha256: {ctct_sig(body)}\r\n\r\n".encode())
            t0 = time.monotonic()
            r = stream_until_answer(s, chunk, 1 << 30)
            took = time.monotonic() - t0
            rss1 = rss_kib(h.pid)
            print(f"\n  1 GiB chunked: {r} after {took:.1f}s; hookd VmRSS before {rss0} KiB, "
                  f"after {rss1} KiB", flush=True)
            self.assertLess(r.sent, 64 * MiB, f"the server read on and on: {r}")
            self.assertIsNotNone(r.response, f"the 413 was lost: {r}")
            self.assertEqual(r.response.status, 413, r)
            self.assertTrue(r.closed or r.error or peer_closed(s, 5),
                            "connection left open after the 413")
        limit = (16 if ASAN else 4) * 1024  # max_body is 1 MiB
        assert_rss_growth(self, rss0, rss1, limit, "1 GiB chunked body")
        alive_and_serving(self, h)
        assert_rss_growth(self, rss0, rss_kib(h.pid), limit, "after the 1 GiB chunked body")

    def test_blind_sender_still_gets_413(self):
        """A sender that writes its whole body before it reads: hookd stops
        reading at max_body and closes; the 413 must still reach it."""
        h = self.hookd(extra_server="  max_body: 1MiB\n" + TIMEOUTS)
        chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
        with h.connect() as s:
            # Credentials and a signature header: what the head decides passes,
            # so it is the body's size that is refused.
            s.sendall(b"POST /webhooks/ctct HTTP/1.1\r\nHost: localhost\r\n" +
                      f"Authorization: {basic()}\r\nx-ctct-hmac-sha256: x\r\n".encode() +
                      b"Transfer-Encoding: chunked\r\n\r\n")
            sent, err = 0, None
            try:
                while sent < 256 * MiB:
                    s.sendall(chunk)
                    sent += len(chunk)
            except OSError as e:  # EPIPE / ECONNRESET once hookd has closed
                err = e
            try:
                r, _ = read_response(s)
            except OSError as e:
                r = None
                err = err or e
            self.assertLess(sent, 64 * MiB, "hookd read on and on")
            self.assertIsNotNone(r, f"the 413 was lost ({err!r} after {sent / MiB:.1f} MiB)")
            self.assertEqual(r.status, 413, r)
        alive_and_serving(self, h)

    def test_refusal_is_followed_by_a_clean_close(self):
        """After a 413 the sender may still be writing: hookd half-closes and
        reads on (discarding), so the sender's next writes do not meet a
        reset, and the connection ends with a FIN, not an RST."""
        h = self.hookd(extra_server="  max_body: 64KiB\n" + TIMEOUTS)
        with h.connect() as s:
            s.sendall(b"POST /webhooks/ctct HTTP/1.1\r\nHost: localhost\r\n"
                      b"Content-Length: 10000000\r\n\r\n" + b"x" * (128 << 10))
            r, _ = read_response(s)
            self.assertEqual(r.status, 413, r)
            time.sleep(0.2)  # a reset, if any, has arrived by now
            s.sendall(b"x" * (256 << 10))  # the rest of a body already on its way
            s.shutdown(socket.SHUT_WR)
            s.settimeout(10 * SLOWER)
            self.assertEqual(s.recv(4096), b"", "expected the end of the stream")
        alive_and_serving(self, h)


if __name__ == "__main__":
    unittest.main()

