"""Issue 15's HTTP items, as a sender meets them: one answer per request
whatever it asks to upgrade to, trailers that decide nothing, and HTTP/1.0
chunked framing closed after its answer."""
import json
import socket
import time

from harness import (HookdCase, base_config, basic, ctct_body, ctct_sig, make_cert, peer_closed,
                     read_lines,
                     read_response, request_bytes, wait_for)


def chunked(body: bytes, head: str, trailers: str = "") -> bytes:
    return (head.encode() + b"Transfer-Encoding: chunked\r\n\r\n" +
            f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n" + trailers.encode() + b"\r\n")


class Http(HookdCase):
    def test_upgrade_is_ignored_and_http_goes_on(self):
        h = self.hookd()
        body = ctct_body()
        with h.connect() as s:
            s.sendall(request_bytes(body, headers={"Connection": "Upgrade",
                                                   "Upgrade": "websocket"}))
            r, rest = read_response(s)
            self.assertEqual(r.status, 200, r)
            # Still HTTP/1.1 on the same connection, and nothing unasked for.
            s.sendall(request_bytes(ctct_body("tier.decrease")))
            r2, rest = read_response(s, rest)
            self.assertEqual(r2.status, 200, r2)
            self.assertEqual(rest, b"")
        wait_for(lambda: len(read_lines(self.events)) == 2, what="both events delivered")

    def test_connect_gets_one_answer_and_a_close(self):
        h = self.hookd()
        with h.connect() as s:
            s.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
            r, rest = read_response(s)
            self.assertIn(r.status, (400, 405), r)
            json.loads(r.body)
            self.assertTrue(peer_closed(s))
            self.assertEqual(rest, b"")

    def test_trailers_decide_nothing(self):
        h = self.hookd()
        body = ctct_body()
        head = (f"POST /webhooks/ctct HTTP/1.1\r\nHost: x\r\nAuthorization: {basic()}\r\n"
                "Content-Type: application/json\r\n")
        # The signature only in a trailer: the request carries none.
        with h.connect() as s:
            s.sendall(chunked(body, head, f"x-ctct-hmac-sha256: {ctct_sig(body)}\r\n"))
            r, _ = read_response(s)
            self.assertEqual(r.status, 401, r)
            self.assertIn("header missing", r.json()["error"])
        # A trailer "Connection: close" does not close; a second Host is no
        # second Host.
        with h.connect() as s:
            s.sendall(chunked(body, head + f"x-ctct-hmac-sha256: {ctct_sig(body)}\r\n",
                              "Connection: close\r\nHost: evil\r\n"))
            r, rest = read_response(s)
            self.assertEqual(r.status, 200, r)
            s.sendall(request_bytes(ctct_body("tier.decrease")))
            r2, _ = read_response(s, rest)
            self.assertEqual(r2.status, 200, r2)
        lines = wait_for(lambda: len(read_lines(self.events)) == 2 and read_lines(self.events),
                         what="two events")
        for line in lines:
            self.assertNotIn("host: evil", json.dumps(line).lower())

    def test_http10_chunked_is_closed_after_its_answer(self):
        h = self.hookd()
        body = ctct_body()
        head = (f"POST /webhooks/ctct HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n"
                f"Authorization: {basic()}\r\nx-ctct-hmac-sha256: {ctct_sig(body)}\r\n")
        with h.connect() as s:
            s.sendall(chunked(body, head))
            r, _ = read_response(s)
            self.assertIsNotNone(r)
            self.assertTrue(peer_closed(s), "an HTTP/1.0 chunked request must close")


def head_only(path="/webhooks/ctct", method="POST", auth=True, sig=True, length=1 << 20,
              expect=True) -> bytes:
    """The head of a request announcing `length` bytes of body, none sent."""
    h = [f"{method} {path} HTTP/1.1", "Host: x", f"Content-Length: {length}",
         "Content-Type: application/json"]
    if auth:
        h.append(f"Authorization: {basic()}")
    if sig:
        h.append("x-ctct-hmac-sha256: " + "A" * 43 + "=")
    if expect:
        h.append("Expect: 100-continue")
    return ("\r\n".join(h) + "\r\n\r\n").encode()


def assert_budget_503(case, h):
    """The next announced megabyte is past the budget: 503 at its head."""
    with h.connect() as s:
        s.sendall(head_only(expect=False))
        s.settimeout(5)
        r, _ = read_response(s)
        case.assertEqual(r.status, 503, r)
        case.assertIn("retry-after", r.headers)


class AtTheHeaders(HookdCase):
    """What can be decided from the head is answered before a byte of body
    is read, and before any 100 Continue."""

    def test_refusals_need_no_body(self):
        h = self.hookd()
        cases = [(head_only(path="/nope"), 404),
                 (head_only(method="PUT"), 405),
                 (head_only(auth=False), 401),
                 (head_only(sig=False), 401)]
        for raw, status in cases:
            with h.connect() as s:
                s.sendall(raw)
                s.settimeout(5)
                data = s.recv(65536)
                self.assertFalse(data.startswith(b"HTTP/1.1 100"), data[:60])
                self.assertTrue(data.startswith(f"HTTP/1.1 {status} ".encode()), data[:200])
        log = h.run_log()
        self.assertIn("no source at this path", log)
        self.assertIn("x-ctct-hmac-sha256 header missing", log)

    def test_budget_of_bodies_in_flight(self):
        h = self.hookd(base_config(self.dir, extra_server="  max_body: 1MiB\n"
                                                          "  max_body_memory: 2MiB\n"))
        held = []
        try:
            for _ in range(2):  # two announced megabytes: within the budget
                s = h.connect()
                s.sendall(head_only(expect=False) + b"{")
                held.append(s)
            time.sleep(0.2)
            assert_budget_503(self, h)
        finally:
            for s in held:
                s.close()
        # Once they are gone, the memory is free again.
        def accepted():
            with h.connect() as s:
                s.sendall(head_only(expect=False))
                s.settimeout(0.3)
                try:
                    return not s.recv(64).startswith(b"HTTP/1.1 503")
                except socket.timeout:
                    return True  # waiting for the body: accepted
        wait_for(accepted, what="the budget given back")


class Connections(HookdCase):
    def test_tls_over_max_connections_gets_503(self):
        cert, key = make_cert(self.dir)
        h = self.hookd(tls=True, extra_server=f"  tls: {{ cert: {cert}, key: {key} }}\n"
                                              "  max_connections: 2\n")
        held = [h.connect(), h.connect()]
        try:
            time.sleep(0.2)
            r = h.post(ctct_body())
            self.assertEqual(r.status, 503, r)
            self.assertIn("retry-after", r.headers)
        finally:
            for s in held:
                s.close()

    def test_accept_failures_are_logged_once_a_second(self):
        import resource

        def few_files():
            resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))
        h = self.hookd(preexec_fn=few_files)
        self.assertIn("exceeds the open files limit", h.run_log())
        held = []
        try:
            for _ in range(120):
                try:
                    held.append(socket.create_connection(("127.0.0.1", h.port), timeout=2))
                except OSError:
                    break
            time.sleep(1.5)
            lines = [l for l in h.run_log().splitlines() if "cannot accept" in l]
            self.assertGreaterEqual(len(lines), 1)
            self.assertLessEqual(len(lines), 3, lines)
        finally:
            for s in held:
                s.close()



def strict_json(r) -> dict:
    """The answer's body as a strict JSON parser takes it: UTF-8 only, no raw
    control characters."""
    return json.loads(r.body.decode("utf-8"), strict=True)


def read_all(s, timeout=5.0) -> bytes:
    """Everything the server sends until it closes."""
    s.settimeout(timeout)
    got = b""
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return got
            got += data
    except (ConnectionResetError, socket.timeout):
        return got


class Refusals(HookdCase):
    def test_error_bodies_stay_json_whatever_the_sender_sent(self):
        h = self.hookd()
        bodies = [b'{"event_type":"x","a":\xff\xfe\x01}',   # jansson quotes the bad token
                  b'{"event_type":"x","a":\x01\x1b[31m}',
                  b'{"event_type":"x","a":"\xc3\x28"}',       # invalid UTF-8 in a string
                  b'{"event_type":"x",' + b'\xe2\x82' * 200 + b'}',  # long, cut sequences
                  b'\xff' * 600]
        for body in bodies:
            r = h.post(body)
            self.assertEqual(r.status, 400, r)
            self.assertIn("body is not JSON", strict_json(r)["error"], r)
        # A type the source refuses, and bytes in the path and the head.
        for body in [b'{"event_type":"\\u0001\\u00ff"}', b'{"event_type":"caf\xc3\xa9\xff"}']:
            r = h.post(body)
            self.assertEqual(r.status, 400, r)
            strict_json(r)
        for raw in [b"POST /webhooks/\xff\xfe HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                    b"POST /webhooks/ctct\x01 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                    b"POST /webhooks/ctct HTTP/1.1\r\nHost: x\r\nX-\xff: \xff\x01\r\n\r\n",
                    b"\xff\xfe\x01 / HTTP/1.1\r\n\r\n"]:
            r = h.send(raw)
            self.assertIsNotNone(r, raw)
            self.assertGreaterEqual(r.status, 400, r)
            strict_json(r)

    def test_a_refused_upgrade_gets_one_answer(self):
        h = self.hookd()
        body = ctct_body()
        for kw in ({"sig": False}, {"auth": False}, {"path": "/nope"}):
            with h.connect() as s:
                s.sendall(request_bytes(body, headers={"Connection": "Upgrade",
                                                       "Upgrade": "websocket"}, **kw))
                got = read_all(s)
                self.assertEqual(got.count(b"HTTP/1.1 "), 1, got)
                self.assertNotIn(b"Pause", got)

    def test_refusal_at_the_head_sends_no_100_continue(self):
        h = self.hookd(base_config(self.dir, extra_server="  max_body: 64KiB\n"))
        for raw, status in [(head_only(length=1 << 20), 413),
                            (head_only(path="/nope", auth=False, sig=False, length=1000), 404)]:
            with h.connect() as s:
                s.sendall(raw)
                got = read_all(s)
                self.assertFalse(got.startswith(b"HTTP/1.1 100"), got[:80])
                self.assertTrue(got.startswith(f"HTTP/1.1 {status} ".encode()), got[:200])
                self.assertEqual(got.count(b"HTTP/1.1 "), 1, got)
        # What passes the head still gets its 100 Continue, then its answer.
        body = ctct_body()
        with h.connect() as s:
            s.sendall(request_bytes(b"", headers={"Expect": "100-continue",
                                                  "Content-Length": str(len(body)),
                                                  "x-ctct-hmac-sha256": ctct_sig(body)}))
            s.settimeout(5)
            self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 100 Continue"))
            s.sendall(body)
            r, _ = read_response(s)
            self.assertEqual(r.status, 200, r)

    def test_max_connections_over_the_open_files_limit_is_warned(self):
        import resource

        def few_files():
            resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))
        h = self.hookd(preexec_fn=few_files, extra_server="  max_connections: 500\n")
        lines = [l for l in h.run_log().splitlines() if "open files limit" in l]
        self.assertEqual(len(lines), 1, h.run_log())
        self.assertIn("500", lines[0])
        self.assertIn("200", lines[0])


class Budget(HookdCase):
    """Bodies in flight share one budget; past it, 503 with Retry-After."""

    def hold(self, h, n):
        """n connections each announcing 1 MiB and sending 1 byte of it."""
        held = []
        for _ in range(n):
            s = h.connect()
            s.sendall(head_only(expect=False) + b"{")
            held.append(s)
        time.sleep(0.3)
        for s in held:  # each is waiting for the rest of its body, unanswered
            s.settimeout(0.05)
            with self.assertRaises(socket.timeout):
                self.assertEqual(s.recv(200), b"", "a held body was answered")
        return held

    def test_a_body_of_max_body_fits_a_budget_of_max_body(self):
        h = self.hookd(base_config(self.dir, extra_server="  max_body: 64KiB\n"
                                                          "  max_body_memory: 64KiB\n"))
        body = ctct_body()[:-1] + b',"pad":"'
        body += b"x" * (65536 - len(body) - 2) + b'"}'
        self.assertEqual(len(body), 65536)
        r = h.post(body)
        self.assertEqual(r.status, 200, r)

    def test_a_chunked_body_past_the_budget_gets_503(self):
        h = self.hookd(base_config(self.dir, extra_server="  max_body: 1MiB\n"
                                                          "  max_body_memory: 2MiB\n"))
        held = self.hold(h, 2)
        try:
            body = ctct_body()
            head = (f"POST /webhooks/ctct HTTP/1.1\r\nHost: x\r\nAuthorization: {basic()}\r\n"
                    f"x-ctct-hmac-sha256: {ctct_sig(body)}\r\n")
            with h.connect() as s:
                s.sendall(chunked(body, head))
                s.settimeout(5)
                r, _ = read_response(s)
                self.assertEqual(r.status, 503, r)
                self.assertEqual(r.headers.get("retry-after"), "1", r.headers)
                strict_json(r)
        finally:
            for s in held:
                s.close()

    def test_default_budget_is_64_bodies_of_max_body(self):
        # No configuration: max_body 1 MiB, so 64 announced megabytes fit and
        # the 65th waits for one of them.
        h = self.hookd()
        held = self.hold(h, 64)
        try:
            assert_budget_503(self, h)
        finally:
            for s in held:
                s.close()


if __name__ == "__main__":
    import unittest
    unittest.main()
