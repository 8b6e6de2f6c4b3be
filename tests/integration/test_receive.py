"""The receive path as a sender sees it: every answer of docs/DESIGN.md §5 this stage
gives, over real sockets, against the real binary."""
import base64
import json
import os
import random
import socket
import time
import unittest

from harness import (FIXTURE_DIR, HookdCase, base_config, basic, ctct_body, ctct_sig, dribble,
                     make_cert, peer_closed, read_lines, read_response, request_bytes, wait_for)


class Accepted(HookdCase):
    def test_signed_notification_lands_in_file(self):
        h = self.hookd()
        body = ctct_body("account.cancel", "acc123")
        r = h.post(body)
        self.assertEqual(r.status, 200, r)
        eid = r.json()["id"]
        self.assertRegex(eid, r"^[0-9A-HJKMNP-TV-Z]{26}$")
        lines = wait_for(lambda: read_lines(self.events), what="file line")
        self.assertEqual(len(lines), 1)
        ev = lines[0]
        self.assertEqual(ev["id"], eid)
        self.assertEqual(ev["type"], "account.cancel")
        self.assertEqual(ev["source"], "constantcontact")
        self.assertEqual(ev["attempt"], 1)
        self.assertEqual(ev["body"], json.loads(body))
        self.assertRegex(ev["received_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def test_ids_are_unique_and_ordered(self):
        h = self.hookd()
        with h.connect() as s:
            ids = []
            for _ in range(50):
                s.sendall(request_bytes(ctct_body()))
                r, _ = read_response(s)
                ids.append(r.json()["id"])
        self.assertEqual(len(set(ids)), 50)
        self.assertEqual(ids, sorted(ids))

    def test_keep_alive_and_pipelining(self):
        h = self.hookd()
        bodies = [ctct_body(t) for t in ("tier.increase", "tier.decrease", "account.disable")]
        with h.connect() as s:
            s.sendall(b"".join(request_bytes(b) for b in bodies))
            rest = b""
            got = []
            for _ in bodies:
                r, rest = read_response(s, rest)
                self.assertEqual(r.status, 200, r)
                got.append(r.json()["id"])
            # The connection is still open for another request.
            s.sendall(request_bytes(bodies[0]))
            r, _ = read_response(s, rest)
            self.assertEqual(r.status, 200)
        lines = wait_for(lambda: len(read_lines(self.events)) == 4 and read_lines(self.events))
        self.assertEqual(sorted(l["type"] for l in lines),
                         sorted(["tier.increase", "tier.decrease", "account.disable", "tier.increase"]))

    def test_chunked_body(self):
        h = self.hookd()
        body = ctct_body("tier.decrease")
        chunks = [body[i:i + 7] for i in range(0, len(body), 7)]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        head = (f"POST /webhooks/ctct HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                f"Authorization: {basic()}\r\nx-ctct-hmac-sha256: {ctct_sig(body)}\r\n\r\n").encode()
        r = h.send(head + payload)
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: read_lines(self.events))
        self.assertEqual(read_lines(self.events)[0]["body"], json.loads(body))

    def test_body_split_across_many_segments(self):
        h = self.hookd()
        raw = request_bytes(ctct_body())
        with h.connect() as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(0, len(raw), 3):
                s.sendall(raw[i:i + 3])
                time.sleep(0.002)
            r, _ = read_response(s)
        self.assertEqual(r.status, 200, r)

    def test_expect_100_continue(self):
        h = self.hookd()
        body = ctct_body()
        raw = request_bytes(body, headers={"Expect": "100-continue"})
        head, _ = raw.split(b"\r\n\r\n", 1)
        with h.connect() as s:
            s.sendall(head + b"\r\n\r\n")
            data = s.recv(100)
            self.assertTrue(data.startswith(b"HTTP/1.1 100 Continue"), data)
            s.sendall(body)
            r, _ = read_response(s, data.split(b"\r\n\r\n", 1)[1])
        self.assertEqual(r.status, 200, r)

    def test_password_with_colon(self):
        h = self.hookd()
        self.assertEqual(h.post(ctct_body()).status, 200)  # PASSWORD is "pa:ss:word"
        wrong = request_bytes(ctct_body(), headers={"Authorization": basic("partner", "pa")})
        self.assertEqual(h.send(wrong).status, 401)

    def test_two_listen_addresses(self):
        h = self.hookd(listen='["127.0.0.1:0", "127.0.0.1:0"]')
        self.assertEqual(len(h.ports), 2)
        for p in h.ports:
            self.assertEqual(h.send(request_bytes(ctct_body()), port=p).status, 200)

    def test_unrouted_event_is_still_accepted(self):
        h = self.hookd(routes='  - { match: "tier.*", to: [audit] }\n')
        r = h.post(ctct_body("account.cancel"))
        self.assertEqual(r.status, 200)
        self.assertIn("unrouted", wait_for(lambda: "unrouted" in h.log_text() and h.log_text()))
        self.assertEqual(read_lines(self.events), [])


class Refused(HookdCase):
    def setUp(self):
        super().setUp()
        self.h = self.hookd(extra_server="  max_body: 2KiB\n  max_header: 2KiB\n")

    def assertNothingStored(self):
        time.sleep(0.2)
        self.assertEqual(read_lines(self.events), [])

    def test_unknown_path(self):
        self.assertEqual(self.h.post(ctct_body(), path="/nope").status, 404)

    def test_wrong_method(self):
        r = self.h.send(b"GET /webhooks/ctct HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.headers["allow"], "POST")

    def test_missing_and_wrong_basic(self):
        r = self.h.post(ctct_body(), auth=False)
        self.assertEqual(r.status, 401)
        self.assertEqual(r.headers["www-authenticate"], 'Basic realm="hookd"')
        r = self.h.post(ctct_body(), headers={"Authorization": basic("partner", "nope")})
        self.assertEqual(r.status, 401)
        self.assertNothingStored()

    def test_signature_missing(self):
        r = self.h.post(ctct_body(), sig=False)
        self.assertEqual(r.status, 401)
        self.assertIn("x-ctct-hmac-sha256", r.json()["error"])
        self.assertNothingStored()

    def test_signature_off_by_one_byte(self):
        body = ctct_body()
        mac = bytearray(base64.b64decode(ctct_sig(body)))
        mac[5] ^= 1
        r = self.h.post(body, headers={"x-ctct-hmac-sha256": base64.b64encode(mac).decode()})
        self.assertEqual(r.status, 401)
        self.assertNothingStored()

    def test_signature_case_changed(self):
        body = ctct_body()
        r = self.h.post(body, headers={"x-ctct-hmac-sha256": ctct_sig(body).swapcase()})
        self.assertEqual(r.status, 401)
        self.assertNothingStored()

    def test_body_tampered(self):
        body = ctct_body("tier.increase")
        raw = request_bytes(body).replace(b"tier.increase", b"tier.decrease")
        self.assertEqual(self.h.send(raw).status, 401)

    def test_failed_check_never_logs_secrets(self):
        body = ctct_body()
        self.h.post(body, headers={"x-ctct-hmac-sha256": ctct_sig(body, "other")})
        log = self.h.log_text()
        self.assertIn("signature", log)
        for secret in ("api-secret-key", "pa:ss:word", ctct_sig(body), basic()[6:]):
            self.assertNotIn(secret, log)

    def test_not_json(self):
        body = b"this is not json"
        r = self.h.post(body)
        self.assertEqual(r.status, 400)
        self.assertIn("JSON", r.json()["error"])

    def test_no_event_type(self):
        r = self.h.post(b'{"url":"x"}')
        self.assertEqual(r.status, 400)
        self.assertIn("/event_type", r.json()["error"])

    def test_body_too_large_by_content_length(self):
        with self.h.connect() as s:
            s.sendall(b"POST /webhooks/ctct HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n")
            r, _ = read_response(s)
            self.assertEqual(r.status, 413)
            self.assertTrue(peer_closed(s))

    def test_chunked_body_too_large(self):
        with self.h.connect() as s:
            s.sendall(b"POST /webhooks/ctct HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" +
                      f"Authorization: {basic()}\r\nx-ctct-hmac-sha256: x\r\n\r\n".encode())
            chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"
            try:
                for _ in range(64):  # far past 2 KiB; refused at the third KiB
                    s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            r, _ = read_response(s)
            self.assertEqual(r.status, 413)

    def test_headers_too_large(self):
        raw = request_bytes(ctct_body(), headers={"X-Filler": "y" * 3000})
        self.assertEqual(self.h.send(raw).status, 431)

    def test_too_many_headers(self):
        extra = {f"X-H{i}": "1" for i in range(120)}
        self.assertEqual(self.h.send(request_bytes(ctct_body(), headers=extra)).status, 431)

    def test_smuggling_shapes(self):
        body = ctct_body()
        shapes = [
            request_bytes(body, headers={"Transfer-Encoding": "chunked"}),  # CL and TE
            request_bytes(body).replace(b"Content-Length:", b"Content-Length: %d\r\nContent-Length:" % len(body), 1),
            request_bytes(body).replace(b"Host: localhost\r\n", b"Host: localhost\r\nX-Fold: a\r\n  b\r\n"),
            request_bytes(body).replace(b"Host: localhost\r\n", b"Host: localhost\n"),
            b"POST /webhooks/ctct HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            b"POST /webhooks/ctct HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n",
        ]
        for raw in shapes:
            with self.subTest(raw=raw[:120]):
                r = self.h.send(raw)
                self.assertIsNotNone(r, "closed without an answer")
                self.assertEqual(r.status, 400, r)
        self.assertNothingStored()

    def test_random_bytes(self):
        rnd = random.Random(7)
        for _ in range(20):
            junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 600)))
            with self.h.connect() as s:
                s.sendall(junk + b"\r\n\r\n")
                s.settimeout(5)
                try:
                    r, _ = read_response(s)
                except (ConnectionResetError, ValueError, IndexError):
                    r = None
                if r is not None:
                    self.assertIn(r.status, (400, 404, 405, 413, 431))
        self.assertEqual(self.h.post(ctct_body()).status, 200)


class Timeouts(HookdCase):
    def test_one_byte_a_second_gets_408(self):
        h = self.hookd(extra_server="  timeouts: { header: 1s, body: 2s, idle: 3s }\n")
        raw = request_bytes(ctct_body())
        with h.connect() as s:
            got, took = dribble(s, raw, 10, wait_s=0.5)
            self.assertTrue(got.startswith(b"HTTP/1.1 408"), got)
            self.assertLess(took, 4)

    def test_slow_body_gets_408(self):
        h = self.hookd(extra_server="  timeouts: { header: 1s, body: 1s, idle: 3s }\n")
        raw = request_bytes(ctct_body())
        with h.connect() as s:
            s.sendall(raw[:-5])
            r, _ = read_response(s)
            self.assertEqual(r.status, 408)
            self.assertTrue(peer_closed(s))

    def test_idle_connection_closed_quietly(self):
        h = self.hookd(extra_server="  timeouts: { header: 1s, body: 1s, idle: 1s }\n")
        with h.connect() as s:
            s.sendall(request_bytes(ctct_body()))
            r, rest = read_response(s)
            self.assertEqual(r.status, 200)
            self.assertTrue(peer_closed(s, 5))


class Connections(HookdCase):
    def test_thousand_connections_at_once(self):
        h = self.hookd()
        socks = [h.connect() for _ in range(1000)]
        try:
            raw = request_bytes(ctct_body())
            for s in socks:
                s.sendall(raw)
            for s in socks:
                r, _ = read_response(s)
                self.assertEqual(r.status, 200)
        finally:
            for s in socks:
                s.close()
        wait_for(lambda: len(read_lines(self.events)) == 1000, 30, "1000 lines")

    def test_max_connections_refuses_cleanly(self):
        h = self.hookd(extra_server="  max_connections: 20\n")
        socks = [h.connect() for _ in range(20)]
        try:
            time.sleep(0.2)
            with h.connect() as extra:
                r, _ = read_response(extra)
                self.assertEqual(r.status, 503)
                self.assertIn("retry-after", r.headers)
            socks.pop().close()
            time.sleep(0.2)
            self.assertEqual(h.post(ctct_body()).status, 200)
        finally:
            for s in socks:
                s.close()

    def test_full_queue_answers_503(self):
        fixtures = FIXTURE_DIR
        plugins = (f"- name: slow\n  use: {fixtures}/good.so\n  concurrency: 1\n"
                   f"  config: {{ result: ok, sleep_ms: 1500 }}\n")
        h = self.hookd(plugins=plugins, routes='  - { match: "*", to: [slow] }\n',
                       top="dispatch: { workers: 1, queue: 2 }\n")
        statuses = [h.post(ctct_body()).status for _ in range(6)]
        self.assertIn(200, statuses)
        self.assertIn(503, statuses)
        r = None
        for _ in range(3):
            r = h.post(ctct_body())
            if r.status == 503:
                break
        self.assertEqual(r.headers.get("retry-after"), "1")


class Tls(HookdCase):
    def test_tls_request_and_garbage_handshake(self):
        cert, key = make_cert(self.dir)
        h = self.hookd(tls=True, extra_server=f"  tls: {{ cert: {cert}, key: {key} }}\n")
        self.assertIn("https://", h.log_text())
        r = h.post(ctct_body("account.disable"))
        self.assertEqual(r.status, 200, r)
        # Garbage where a ClientHello should be: closed, and service goes on.
        with socket.create_connection(("127.0.0.1", h.port), timeout=5) as s:
            s.sendall(os.urandom(512))
            self.assertTrue(peer_closed(s))
        with socket.create_connection(("127.0.0.1", h.port), timeout=5) as s:
            s.sendall(request_bytes(ctct_body()))  # plain HTTP to a TLS port
            self.assertTrue(peer_closed(s))
        self.assertEqual(h.post(ctct_body()).status, 200)
        # Keep-alive over TLS.
        with h.connect() as s:
            for _ in range(3):
                s.sendall(request_bytes(ctct_body()))
                r, _ = read_response(s)
                self.assertEqual(r.status, 200)
        wait_for(lambda: len(read_lines(self.events)) == 5)


if __name__ == "__main__":
    unittest.main()
