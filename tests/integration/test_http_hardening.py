"""Issue 15's HTTP items, as a sender meets them: one answer per request
whatever it asks to upgrade to, trailers that decide nothing, and HTTP/1.0
chunked framing closed after its answer."""
import json
import socket

from harness import (HookdCase, basic, ctct_body, ctct_sig, peer_closed, read_lines,
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


if __name__ == "__main__":
    import unittest
    unittest.main()
