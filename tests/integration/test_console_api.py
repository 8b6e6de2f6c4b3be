"""The console on the admin listener (docs/DESIGN.md §12): its files and their
security headers, the token and loopback rules, POST's rules, the size bounds,
keep-alive, and /api/v1/refusals filled by refused webhook requests."""
import json
import os
import re
import socket
import unittest

from harness import (SECRET, HookdCase, base_config, ctct_body, ctct_sig, read_response,
                     wait_for)

TOKEN = "console-token-0123456789abcdef"
SPOOL = "spool: { path: spool.db, sync: normal }\n"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def admin(listen="127.0.0.1:0", extra=""):
    return f'admin: {{ listen: "{listen}"{extra} }}\n' + SPOOL


def admin_port(h):
    m = re.search(r"admin listening on http://\S*?:(\d+)\s", h.run_log())
    if not m:
        raise AssertionError("no admin listening line:\n" + h.run_log())
    return int(m.group(1))


def req(port, path, method="GET", headers=None, body=b"", token=None):
    h = {"Host": "localhost"}
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    if body or method == "POST":
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = "".join(f"{k}: {v}\r\n" for k, v in h.items())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode() + body)
        r, _ = read_response(s) if method != "HEAD" else read_head(s)
        return r


def read_head(s):
    """A HEAD answer: the headers only (Content-Length names a body not sent)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}

    class R:
        pass
    r = R()
    r.status, r.headers, r.body = int(lines[0].split()[1]), headers, rest
    return r, b""


class ConsoleFiles(HookdCase):
    def assert_security_headers(self, r):
        self.assertEqual(r.headers.get("content-security-policy"), CSP)
        self.assertEqual(r.headers.get("x-content-type-options"), "nosniff")
        self.assertEqual(r.headers.get("referrer-policy"), "no-referrer")
        self.assertNotIn("set-cookie", r.headers)

    def test_files_load_without_a_token_with_the_security_headers(self):
        h = self.hookd(base_config(self.dir, top=admin(extra=f', token: "{TOKEN}"')))
        port = admin_port(h)
        for path, ctype, want in [("/", "text/html", b"<html"),
                                  ("/console.css", "text/css", b""),
                                  ("/console.js", "text/javascript", b"")]:
            r = req(port, path)
            self.assertEqual(r.status, 200, (path, r))
            self.assertEqual(r.headers["content-type"], ctype + "; charset=utf-8")
            self.assertGreater(len(r.body), 0)
            self.assertIn(want, r.body)
            self.assert_security_headers(r)
            self.assertEqual(r.headers.get("cache-control"), "no-store")
        # HEAD: the same headers, no body
        r = req(port, "/", method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertGreater(int(r.headers["content-length"]), 0)
        self.assertEqual(r.body, b"")
        self.assert_security_headers(r)
        # other methods: 405 with Allow
        r = req(port, "/console.js", method="POST", headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 405)
        self.assertEqual(r.headers.get("allow"), "GET, HEAD")
        # only the three names: nothing else under /, no traversal
        for path in ["/index.html", "/console.js/..", "/../console.js", "/%2e%2e/etc/passwd",
                     "/console.jsx", "/etc/passwd"]:
            self.assertEqual(req(port, path).status, 404, path)
        # the probes are as before
        self.assertEqual(req(port, "/healthz").status, 200)
        self.assertNotIn(TOKEN, h.run_log())
        self.assertIn(f"console at http://127.0.0.1:{port}/", h.run_log())

    def test_console_off(self):
        h = self.hookd(base_config(self.dir, top=admin(extra=", console: false")))
        port = admin_port(h)
        self.assertEqual(req(port, "/").status, 404)
        self.assertEqual(req(port, "/api/v1/stats").status, 404)
        self.assertEqual(req(port, "/healthz").status, 200)
        self.assertNotIn("console at", h.run_log())

    def test_console_dir_is_read_on_each_request(self):
        d = os.path.join(self.dir, "page")
        os.mkdir(d)
        for name in ("index.html", "console.css", "console.js"):
            with open(os.path.join(d, name), "w") as f:
                f.write(f"disk {name} 1")
        with open(os.path.join(self.dir, "secret.txt"), "w") as f:
            f.write("not served")
        h = self.hookd(base_config(self.dir, top=admin(extra=f", console_dir: {d}")))
        port = admin_port(h)
        self.assertEqual(req(port, "/").body, b"disk index.html 1")
        with open(os.path.join(d, "console.js"), "w") as f:
            f.write("disk console.js 2")
        r = req(port, "/console.js")
        self.assertEqual((r.status, r.body), (200, b"disk console.js 2"))
        self.assertEqual(r.headers["content-type"], "text/javascript; charset=utf-8")
        self.assertEqual(req(port, "/secret.txt").status, 404)
        self.assertEqual(req(port, "/../secret.txt").status, 404)
        os.unlink(os.path.join(d, "console.css"))
        self.assertEqual(req(port, "/console.css").status, 404)


class ConsoleRules(HookdCase):
    def test_token_missing_wrong_right(self):
        h = self.hookd(base_config(self.dir, top=admin(extra=f', token: "{TOKEN}"')))
        port = admin_port(h)
        for tok in [None, "wrong", TOKEN[:-1] + "X", TOKEN + "X", ""]:
            r = req(port, "/api/v1/stats", token=tok)
            self.assertEqual(r.status, 401, tok)
            self.assertEqual(r.headers.get("www-authenticate"), "Bearer")
            self.assertEqual(r.headers["content-type"], "application/json; charset=utf-8")
            self.assertIn("error", r.json())
        r = req(port, "/api/v1/stats", headers={"Authorization": f"Basic {TOKEN}"})
        self.assertEqual(r.status, 401)
        r = req(port, "/api/v1/stats", token=TOKEN)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("cache-control"), "no-store")
        self.assertEqual(r.headers.get("content-security-policy"), CSP)
        self.assertEqual(r.headers.get("x-content-type-options"), "nosniff")
        s = r.json()
        self.assertEqual(s["driver"], "sqlite")
        self.assertTrue(s["node"])
        for k in ("now", "started_at"):
            self.assertRegex(s[k], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(s["received"], 0)
        self.assertEqual(s["refused"], {})
        # unknown API paths: 404 JSON, after the token (nothing said before it)
        self.assertEqual(req(port, "/api/v1/nope").status, 401)
        r = req(port, "/api/v1/nope", token=TOKEN)
        self.assertEqual(r.status, 404)
        self.assertIn("error", r.json())
        r = req(port, "/api/v1/stats", method="DELETE", token=TOKEN)
        self.assertEqual((r.status, r.headers.get("allow")), (405, "GET, HEAD"))
        self.assertNotIn(TOKEN, h.log_text())

    def test_loopback_without_a_token(self):
        h = self.hookd(base_config(self.dir, top=admin()))
        port = admin_port(h)
        r = req(port, "/api/v1/stats")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(req(port, "/").status, 200)
        self.assertIn(f"console at http://127.0.0.1:{port}/", h.run_log())

    def test_loopback_without_a_token_refuses_other_hosts(self):
        """DNS rebinding: a page of evil.example whose name now resolves to
        127.0.0.1 reaches the listener with its own Host; without a token the
        console answers only a loopback name."""
        h = self.hookd(base_config(self.dir, top=admin()))
        port = admin_port(h)
        for host in (f"127.0.0.1:{port}", "localhost", f"localhost:{port}", f"[::1]:{port}",
                     "127.0.0.1"):
            self.assertEqual(req(port, "/api/v1/stats", headers={"Host": host}).status, 200,
                             host)
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example",
                     "localhost.evil.example", ""):
            r = req(port, "/api/v1/stats", headers={"Host": host})
            self.assertEqual(r.status, 403, host)
            self.assertEqual(req(port, "/", headers={"Host": host}).status, 403, host)
        self.assertEqual(req(port, "/healthz", headers={"Host": "evil.example"}).status, 200)

    def test_not_loopback_without_a_token_answers_403(self):
        h = self.hookd(base_config(self.dir, top=admin(listen="0.0.0.0:0")))
        port = admin_port(h)
        self.assertEqual(req(port, "/").status, 403)
        self.assertEqual(req(port, "/console.js").status, 403)
        r = req(port, "/api/v1/stats")
        self.assertEqual(r.status, 403)
        self.assertIn("error", r.json())
        self.assertEqual(req(port, "/api/v1/stats", token="anything-at-all-here").status, 403)
        self.assertEqual(req(port, "/healthz").status, 200)
        self.assertIn("admin.token is not set and admin.listen is not loopback: the console "
                      "and API answer 403", h.run_log())
        self.assertNotIn("console at", h.run_log())

    def test_not_loopback_with_a_token(self):
        h = self.hookd(base_config(self.dir, top=admin(listen="0.0.0.0:0",
                                                       extra=f', token: "{TOKEN}"')))
        port = admin_port(h)
        self.assertEqual(req(port, "/").status, 200)
        self.assertEqual(req(port, "/api/v1/stats").status, 401)
        self.assertEqual(req(port, "/api/v1/stats", token=TOKEN).status, 200)

    def test_post_rules(self):
        h = self.hookd(base_config(self.dir, top=admin(extra=f', token: "{TOKEN}"')))
        port = admin_port(h)
        path = "/api/v1/refusals"  # a GET route: a POST passing the rules gets 405
        r = req(port, path, method="POST", body=b"{}", token=TOKEN)
        self.assertEqual(r.status, 415)
        r = req(port, path, method="POST", body=b"{}", token=TOKEN,
                headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 415)
        for site in ("cross-site", "same-site"):
            r = req(port, path, method="POST", body=b"{}", token=TOKEN,
                    headers={"Content-Type": "application/json", "Sec-Fetch-Site": site})
            self.assertEqual(r.status, 403, site)
        # no token: 401 before anything else
        r = req(port, path, method="POST", body=b"{}",
                headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 401)
        r = req(port, path, method="POST", body=b"[1]", token=TOKEN,
                headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(r.status, 400)
        for ct in ("application/json", "application/json; charset=utf-8"):
            r = req(port, path, method="POST", body=b"{}", token=TOKEN,
                    headers={"Content-Type": ct, "Sec-Fetch-Site": "same-origin"})
            self.assertEqual((r.status, r.headers.get("allow")), (405, "GET, HEAD"), ct)

    def test_size_bounds(self):
        h = self.hookd(base_config(self.dir, top=admin(extra=f', token: "{TOKEN}"')))
        port = admin_port(h)
        big = b"{" + b" " * (64 * 1024) + b"}"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(f"POST /api/v1/refusals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                      f"{TOKEN}\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {len(big)}\r\n\r\n".encode())
            r, _ = read_response(s)
            self.assertEqual(r.status, 413)  # on the head alone, before the body
        # chunked past the bound
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            try:
                s.sendall(f"POST /api/v1/refusals HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                          f"chunked\r\nContent-Type: application/json\r\n\r\n"
                          f"{len(big):x}\r\n".encode() + big + b"\r\n0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            r, _ = read_response(s)
            self.assertEqual(r.status, 413)
        # a body under the bound is read
        ok = b"{" + b" " * 60000 + b"}"
        r = req(port, "/api/v1/refusals", method="POST", body=ok, token=TOKEN,
                headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 405)
        # headers past 8 KiB
        r = req(port, "/api/v1/stats", token=TOKEN, headers={"X-Big": "a" * 9000})
        self.assertEqual(r.status, 431)
        r = req(port, "/api/v1/stats", headers={"Authorization": "Bearer " + "a" * 2000})
        self.assertEqual(r.status, 431)
        self.assertEqual(req(port, "/api/v1/stats", token=TOKEN).status, 200)

    def test_keep_alive(self):
        h = self.hookd(base_config(self.dir, top=admin(extra=f', token: "{TOKEN}"')))
        port = admin_port(h)
        auth = f"Authorization: Bearer {TOKEN}\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            rest = b""
            for path in ["/", "/api/v1/stats", "/api/v1/refusals", "/healthz", "/console.js"]:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
                r, rest = read_response(s, rest)
                self.assertEqual(r.status, 200, path)
                self.assertNotEqual(r.headers.get("connection"), "close")
            # pipelined: both answered, in order
            s.sendall(f"GET /api/v1/refusals HTTP/1.1\r\nHost: x\r\n{auth}\r\n"
                      f"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            r1, rest = read_response(s, rest)
            r2, rest = read_response(s, rest)
            self.assertEqual((r1.status, r2.status), (200, 200))
            self.assertIn(b"refusals", r1.body)
            self.assertEqual(r2.body, b"ok\n")
            # Connection: close is honoured
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            r, rest = read_response(s, rest)
            self.assertEqual(r.headers.get("connection"), "close")
            self.assertEqual(s.recv(10), b"")


class ConsoleRefusals(HookdCase):
    def test_refused_requests_are_listed_without_secrets(self):
        h = self.hookd(base_config(self.dir, top=admin(extra=f', token: "{TOKEN}"')))
        port = admin_port(h)
        body = ctct_body("tier.increase")
        good_mac = ctct_sig(body)
        r = h.post(body, headers={"x-ctct-hmac-sha256": ctct_sig(body, "not-the-secret")})
        self.assertEqual(r.status, 401)
        r = h.post(body, auth=False)
        self.assertEqual(r.status, 401)
        r = h.post(body, path="/nowhere")
        self.assertEqual(r.status, 404)
        r = h.post(body)
        self.assertEqual(r.status, 200)

        r = req(port, "/api/v1/refusals", token=TOKEN)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("cache-control"), "no-store")
        got = r.json()["refusals"]
        self.assertEqual(len(got), 3, got)
        self.assertEqual([x["check"] for x in got], ["path", "auth", "signature"])  # newest first
        sig = got[2]
        self.assertEqual(sig["status"], 401)
        self.assertEqual(sig["source"], "constantcontact")
        self.assertRegex(sig["peer"], r"^127\.0\.0\.1:\d+$")
        self.assertRegex(sig["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertIn("signature check failed", sig["reason"])
        self.assertIsNone(got[0]["source"])
        for secret in (SECRET, good_mac, good_mac.rstrip("="), TOKEN):
            self.assertNotIn(secret, r.body.decode())

        r = req(port, "/api/v1/refusals?limit=1", token=TOKEN)
        self.assertEqual([x["check"] for x in r.json()["refusals"]], ["path"])
        self.assertEqual(req(port, "/api/v1/refusals?limit=x", token=TOKEN).status, 400)

        s = req(port, "/api/v1/stats", token=TOKEN).json()
        self.assertEqual(s["refused"], {"signature": 1, "auth": 1, "path": 1})
        wait_for(lambda: req(port, "/api/v1/stats", token=TOKEN).json()["received"] == 1,
                 what="the accepted event counted")

    def test_listener_refusals_are_listed(self):
        h = self.hookd(base_config(self.dir, top=admin()))
        port = admin_port(h)
        with h.connect() as s:
            s.sendall(b"POST /webhooks/ctct HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            read_response(s)
        got = req(port, "/api/v1/refusals").json()["refusals"]
        self.assertEqual(got[0]["status"], 400)
        self.assertEqual(got[0]["check"], "http")
        self.assertIsNone(got[0]["source"])


if __name__ == "__main__":
    unittest.main()
