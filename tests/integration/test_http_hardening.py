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
            with h.connect() as s:
                s.sendall(head_only(expect=False))
                s.settimeout(5)
                r, _ = read_response(s)
                self.assertEqual(r.status, 503, r)
                self.assertIn("retry-after", r.headers)
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


if __name__ == "__main__":
    import unittest
    unittest.main()
