"""`hookd ctct topics | subscribe | unsubscribe | test` against a fake
Constant Contact API (v2 and v3) on a loopback port: the authentication each
version wants, the requests' paths and bodies, the table and --json output,
the refusals made before any request, and the one-line messages and exit
codes for 401, 404, 406, 5xx and a network that is down. No secret may appear
in any output."""
import base64
import json
import os
import socket
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from harness import HookdCase, base_config

API_KEY = "key-0123456789-SECRET"
USER, PASSWORD = "partner-user", "pw-s3cr3t:with:colons"
CLIENT_ID, CLIENT_SECRET = "client-id-42", "client-SECRET-99"
SECRETS = (API_KEY, PASSWORD, CLIENT_SECRET)

NAMES = {1: "Billing Tier Upgrade", 2: "Billing Tier Downgrade", 3: "Account Cancelled",
         4: "Account Disabled"}
EVENTS = {1: "tier.increase", 2: "tier.decrease", 3: "account.cancel", 4: "account.disable"}


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class FakeCtct:
    """The partner webhook API of one version, plus a token endpoint at
    /oauth2/token that counts the tokens it issues."""

    def __init__(self, api):
        self.api = api
        self.calls = []              # every request but the token's
        self.token_calls = []
        self.tokens_issued = 0
        self.valid = set()
        self.refuse_next = 0         # answer 401 to this many authenticated API calls
        self.force = None            # (status, headers) for every API call
        self.known = {1, 2, 3, 4}
        self.subs = {2: "https://old.example.com/hook"}   # topic -> callback
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with fake.lock:
                    status, headers, out = fake.handle(self.command, self.path, self.headers, body)
                data = b"" if out is None else json.dumps(out).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if out is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- the answers ----

    def handle(self, method, target, headers, body):
        u = urlsplit(target)
        q = parse_qs(u.query)
        rec = {"method": method, "path": u.path, "query": q, "headers": dict(headers.items()),
               "body": body}
        if u.path == "/oauth2/token":
            self.token_calls.append(rec)
            return self.token(method, headers, body)
        self.calls.append(rec)
        if "application/json" not in (headers.get("Accept") or ""):
            return 406, None, {"error_message": "not acceptable"}
        if not self.authorised(headers, q):
            return 401, None, [{"error_key": "unauthorized", "error_message": "Unauthorized"}]
        if self.refuse_next:
            self.refuse_next -= 1
            self.valid.discard(headers.get("Authorization"))
            return 401, None, {"error_message": "token expired"}
        if self.force:
            status, hdrs = self.force
            return status, hdrs, {"error_message": f"forced {status}"}
        return self.route(method, u.path, body)

    def token(self, method, headers, body):
        if method != "POST" or headers.get("Authorization") != basic(CLIENT_ID, CLIENT_SECRET):
            return 401, None, {"error": "invalid_client"}
        if headers.get("Content-Type") != "application/x-www-form-urlencoded":
            return 415, None, {"error": "unsupported media type"}
        if parse_qs(body.decode()).get("grant_type") != ["client_credentials"]:
            return 400, None, {"error": "unsupported_grant_type"}
        self.tokens_issued += 1
        tok = f"tok-{self.tokens_issued}"
        self.valid.add(tok)
        return 200, None, {"access_token": tok, "token_type": "Bearer", "expires_in": 3600}

    def authorised(self, headers, q):
        if self.api == 2:
            return (headers.get("Authorization") == basic(USER, PASSWORD)
                    and q.get("api_key") == [API_KEY])
        return (headers.get("x-api-key") == API_KEY
                and headers.get("Authorization") in self.valid)

    def route(self, method, path, body):
        parts = path.strip("/").split("/")
        if self.api == 2:
            prefix = ["v2", "webhooks", "partner", "topics"]
        else:
            prefix = ["v3", "partner", "webhooks", "subscriptions"]
        if parts[:4] != prefix:
            return 404, None, {"error_message": "no such resource"}
        rest = parts[4:]
        if not rest and method == "GET":
            if self.api == 2:
                return 200, None, [self.v2_topic(i) for i in sorted(self.known)]
            return 200, None, [self.v3_sub(i) for i in sorted(self.subs)]
        try:
            tid = int(rest[0])
        except (IndexError, ValueError):
            return 404, None, {"error_message": "no such resource"}
        if tid not in self.known:
            return 404, None, {"error_message": f"topic {tid} not found"}
        if len(rest) == 1 and method == "GET":
            return 200, None, self.v2_topic(tid) if self.api == 2 else self.v3_sub(tid)
        if len(rest) == 1 and method == "PUT":
            doc = json.loads(body)
            if self.api == 2:
                if doc.get("is_subscribed") is not True:
                    return 400, None, {"error_message": "is_subscribed must be true"}
                self.subs[tid] = doc["callback_uri"]
                return 200, None, self.v2_topic(tid)
            self.subs[tid] = doc["hook_uri"]
            return 200, None, {"topic_id": tid, "hook_uri": doc["hook_uri"]}
        if len(rest) == 1 and method == "DELETE":
            self.subs.pop(tid, None)
            return 204, None, None
        if len(rest) == 2 and method == "POST" and rest[1] == ("test" if self.api == 2 else "tests"):
            if self.api == 2:
                return 200, None, {"response_code": 200, "response_body": '{"id":"01J0TEST"}'}
            return 204, None, None
        return 405, None, {"error_message": "method not allowed"}

    def v2_topic(self, i):
        t = {"id": str(i), "name": NAMES[i], "description": "…", "is_subscribed": i in self.subs}
        if i in self.subs:
            t["callback_uri"] = self.subs[i]
        return t

    def v3_sub(self, i):
        return {"topic_id": i, "hook_uri": self.subs[i], "topic_name": NAMES[i],
                "topic_description": "…"}


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class CtctCase(HookdCase):
    API = 2

    def setUp(self):
        super().setUp()
        self.fake = FakeCtct(self.API)
        self.addCleanup(self.fake.close)

    def ctct_block(self, **over):
        if self.API == 2:
            keys = {"api": "v2", "base_url": self.fake.base, "api_key": '"${CTCT_TEST_KEY}"',
                    "username": USER, "password": '"${CTCT_TEST_PASSWORD}"', "timeout": "5s"}
        else:
            keys = {"api": "v3", "base_url": self.fake.base, "api_key": '"${CTCT_TEST_KEY}"',
                    "client_id": CLIENT_ID, "client_secret": '"${CTCT_TEST_SECRET}"',
                    "token_url": f'"{self.fake.base}/oauth2/token"', "timeout": "5s"}
        keys.update(over)
        return "ctct:\n" + "".join(f"  {k}: {v}\n" for k, v in keys.items() if v is not None)

    def write_config(self, block=None):
        path = os.path.join(self.dir, "hookd.yaml")
        with open(path, "w") as f:
            f.write(base_config(self.dir, top=self.ctct_block() if block is None else block))
        return path

    def ctct(self, *args, block=None, env=None):
        path = self.write_config(block)
        e = {"CTCT_TEST_KEY": API_KEY, "CTCT_TEST_PASSWORD": PASSWORD,
             "CTCT_TEST_SECRET": CLIENT_SECRET}
        e.update(env or {})
        r = self.run_cli("ctct", *args, "-c", path, env=e)
        out, err = r.stdout.decode(), r.stderr.decode()
        for s in SECRETS:
            self.assertNotIn(s, out)
            self.assertNotIn(s, err)
        return r.returncode, out, err

    def expect_fail(self, code, want, *args, **kw):
        rc, out, err = self.ctct(*args, **kw)
        self.assertEqual(rc, code, err)
        self.assertEqual(out, "")
        lines = err.splitlines()
        self.assertEqual(len(lines), 1, err)
        self.assertIn(want, lines[0])
        self.assertTrue(lines[0].startswith("hookd ctct: "), lines[0])
        return lines[0]

    def only_call(self):
        self.assertEqual(len(self.fake.calls), 1, self.fake.calls)
        return self.fake.calls[0]


class V2(CtctCase):
    API = 2

    def check_auth(self, call):
        self.assertEqual(call["headers"].get("Authorization"), basic(USER, PASSWORD))
        self.assertEqual(call["query"].get("api_key"), [API_KEY])
        self.assertEqual(call["headers"].get("Accept"), "application/json")
        self.assertNotIn("x-api-key", call["headers"])

    def test_topics_table(self):
        rc, out, err = self.ctct("topics")
        self.assertEqual(rc, 0, err)
        call = self.only_call()
        self.assertEqual((call["method"], call["path"]), ("GET", "/v2/webhooks/partner/topics"))
        self.assertEqual(call["query"].get("subscription_status"), ["ALL"])
        self.check_auth(call)
        lines = out.splitlines()
        self.assertEqual(len(lines), 5, out)
        self.assertRegex(lines[0], r"^ID\s+EVENT TYPE\s+NAME\s+SUBSCRIBED\s+CALLBACK$")
        self.assertRegex(lines[1], r"^1\s+tier\.increase\s+Billing Tier Upgrade\s+no\s+-$")
        self.assertRegex(lines[2], r"^2\s+tier\.decrease\s+Billing Tier Downgrade\s+yes\s+"
                                   r"https://old\.example\.com/hook$")
        self.assertRegex(lines[4], r"^4\s+account\.disable\s+Account Disabled\s+no\s+-$")
        # Columns line up.
        self.assertEqual(lines[0].index("CALLBACK"), lines[2].index("https://"))

    def test_topics_json(self):
        rc, out, err = self.ctct("topics", "--json")
        self.assertEqual(rc, 0, err)
        rows = json.loads(out)
        self.assertEqual([r["id"] for r in rows], [1, 2, 3, 4])
        self.assertEqual(rows[1], {"id": 2, "event_type": "tier.decrease",
                                   "name": "Billing Tier Downgrade", "subscribed": True,
                                   "callback": "https://old.example.com/hook"})
        self.assertEqual(rows[0]["subscribed"], False)
        self.assertIsNone(rows[0]["callback"])

    def test_subscribe(self):
        url = "https://hooks.example.com/webhooks/ctct"
        rc, out, err = self.ctct("subscribe", "tier.increase", url)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, f"subscribed topic 1 (tier.increase) to {url}\n")
        call = self.only_call()
        self.assertEqual((call["method"], call["path"]), ("PUT", "/v2/webhooks/partner/topics/1"))
        self.check_auth(call)
        self.assertEqual(call["headers"].get("Content-Type"), "application/json")
        self.assertEqual(json.loads(call["body"]), {"callback_uri": url, "is_subscribed": True})
        self.assertEqual(self.fake.subs[1], url)

    def test_subscribe_json_options_anywhere(self):
        url = "https://hooks.example.com/x"
        path = self.write_config()
        r = self.run_cli("--json", "ctct", "subscribe", "-c", path, "4", url,
                         env={"CTCT_TEST_KEY": API_KEY, "CTCT_TEST_PASSWORD": PASSWORD})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"id": 4, "event_type": "account.disable",
                                                "name": "Account Disabled", "subscribed": True,
                                                "callback": url})

    def test_unsubscribe(self):
        rc, out, err = self.ctct("unsubscribe", "2")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "unsubscribed topic 2 (tier.decrease)\n")
        call = self.only_call()
        self.assertEqual((call["method"], call["path"]), ("DELETE", "/v2/webhooks/partner/topics/2"))
        self.check_auth(call)
        self.assertNotIn(2, self.fake.subs)
        rc, out, err = self.ctct("unsubscribe", "account.cancel", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), {"id": 3, "event_type": "account.cancel",
                                           "name": "Account Cancelled", "subscribed": False,
                                           "callback": None})

    def test_test(self):
        rc, out, err = self.ctct("test", "account.cancel")
        self.assertEqual(rc, 0, err)
        call = self.only_call()
        self.assertEqual((call["method"], call["path"]),
                         ("POST", "/v2/webhooks/partner/topics/3/test"))
        self.check_auth(call)
        self.assertEqual(call["body"], b"")
        self.assertNotIn("Content-Type", call["headers"])
        self.assertIn("test notification requested for topic 3 (account.cancel)", out)
        self.assertIn('"response_code":200', out)
        rc, out, err = self.ctct("test", "3", "--json")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["id"], 3)
        self.assertEqual(doc["sent"], True)
        self.assertEqual(doc["answer"]["response_code"], 200)

    def test_subscribe_url_refused_before_any_call(self):
        line = self.expect_fail(2, "https://", "subscribe", "1", "http://hooks.example.com/x")
        self.assertNotIn("401", line)
        self.expect_fail(2, "https://", "subscribe", "1", "ftp://hooks.example.com/x")
        self.expect_fail(2, "https://", "subscribe", "1", "hooks.example.com/x")
        long_url = "https://hooks.example.com/" + "a" * (513 - 26)
        self.assertEqual(len(long_url), 513)
        self.expect_fail(2, "512", "subscribe", "1", long_url)
        self.assertEqual(self.fake.calls, [])
        # 512 characters are fine.
        rc, out, err = self.ctct("subscribe", "1", long_url[:512])
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(self.fake.calls), 1)

    def test_usage_errors(self):
        self.expect_fail(2, "unknown topic \"5\"", "test", "5")
        self.expect_fail(2, "unknown topic \"tier\"", "unsubscribe", "tier")
        self.expect_fail(2, "unknown subcommand", "list")
        self.expect_fail(2, "expected topics")
        self.expect_fail(2, "usage: hookd ctct subscribe TOPIC URL", "subscribe", "1")
        self.expect_fail(2, "usage: hookd ctct topics", "topics", "extra")
        self.assertEqual(self.fake.calls, [])

    def test_no_ctct_block(self):
        self.expect_fail(2, "no ctct: block in", "topics", block="")
        self.expect_fail(2, "no ctct: block in", "subscribe", "1", "https://h/x", block="")

    def test_config_error(self):
        rc, out, err = self.ctct("topics", block=self.ctct_block(username=None))
        self.assertEqual(rc, 2)
        self.assertRegex(err, r"hookd\.yaml:\d+:\d+: ctct: missing required key \"username\"")

    def test_401(self):
        line = self.expect_fail(1, "", "topics",
                                env={"CTCT_TEST_PASSWORD": "wrong-password-SECRET"})
        self.assertEqual(line, "hookd ctct: credentials refused (401): "
                               "check ctct.username/password/api_key")
        self.expect_fail(1, "credentials refused (401)", "subscribe", "1", "https://h/x",
                         env={"CTCT_TEST_KEY": "other-key"})

    def test_404(self):
        self.fake.known = {1, 2}
        line = self.expect_fail(1, "unknown topic 4", "unsubscribe", "account.disable")
        self.assertIn("404", line)
        self.expect_fail(1, "unknown topic 3 (account.cancel) (404)", "test", "3")

    def test_404_list(self):
        # A base that is not the API at all answers 404 for the list.
        self.fake.route = lambda *a: (404, None, {"error_message": "nope"})
        self.expect_fail(1, "not found (404): check ctct.base_url", "topics")

    def test_406(self):
        self.fake.force = (406, None)
        self.expect_fail(1, "not acceptable (406)", "topics")

    def test_5xx(self):
        self.fake.force = (503, {"Retry-After": "30"})
        line = self.expect_fail(1, "server error (HTTP 503)", "subscribe", "1", "https://h/x")
        self.assertIn("Retry-After 30 s", line)
        self.assertIn("try again later", line)
        self.fake.force = (500, None)
        self.expect_fail(1, "server error (HTTP 500)", "topics")

    def test_429_and_other_4xx(self):
        self.fake.force = (429, None)
        self.expect_fail(1, "rate limited (429)", "topics")
        self.fake.force = (400, None)
        line = self.expect_fail(1, "unexpected answer: HTTP 400", "topics")
        self.assertIn("forced 400", line)

    def test_answer_too_big(self):
        self.fake.route = lambda *a: (200, None, ["x" * 1000] * 300)
        self.expect_fail(1, "topics failed: HTTP 200: the answer is larger than 256 KiB", "topics")

    def test_network_down(self):
        base = f"http://127.0.0.1:{closed_port()}"
        line = self.expect_fail(1, f"cannot reach the Constant Contact API at {base}", "topics",
                                block=self.ctct_block(base_url=base))
        self.assertIn("curl", line)

    def test_check_prints_the_block_without_secrets(self):
        path = self.write_config()
        r = self.run_cli("check", "-c", path, env={"CTCT_TEST_KEY": API_KEY,
                                                   "CTCT_TEST_PASSWORD": PASSWORD})
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn(f"ctct: api v2, base {self.fake.base}, timeout 5000 ms", out)
        for s in SECRETS + (USER,):
            self.assertNotIn(s, out)
        self.assertEqual(self.fake.calls, [])


class V3(CtctCase):
    API = 3

    def check_auth(self, call, token):
        self.assertEqual(call["headers"].get("x-api-key"), API_KEY)
        self.assertEqual(call["headers"].get("Authorization"), token)   # the token itself
        self.assertEqual(call["headers"].get("Accept"), "application/json")
        self.assertNotIn("api_key", call["query"])

    def check_token_call(self, i=0):
        t = self.fake.token_calls[i]
        self.assertEqual(t["method"], "POST")
        self.assertEqual(t["headers"].get("Authorization"), basic(CLIENT_ID, CLIENT_SECRET))
        self.assertEqual(t["headers"].get("Content-Type"), "application/x-www-form-urlencoded")
        self.assertEqual(parse_qs(t["body"].decode()), {"grant_type": ["client_credentials"]})

    def test_topics(self):
        rc, out, err = self.ctct("topics")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.fake.tokens_issued, 1)
        self.check_token_call()
        call = self.only_call()
        self.assertEqual((call["method"], call["path"]),
                         ("GET", "/v3/partner/webhooks/subscriptions"))
        self.check_auth(call, "tok-1")
        lines = out.splitlines()
        self.assertEqual(len(lines), 5, out)
        self.assertRegex(lines[2], r"^2\s+tier\.decrease\s+Billing Tier Downgrade\s+yes\s+"
                                   r"https://old\.example\.com/hook$")
        self.assertRegex(lines[3], r"^3\s+account\.cancel\s+Account Cancelled\s+no\s+-$")
        rc, out, err = self.ctct("topics", "--json")
        rows = json.loads(out)
        self.assertEqual([(r["id"], r["subscribed"]) for r in rows],
                         [(1, False), (2, True), (3, False), (4, False)])
        # One process, one token: the CLI does not keep one between runs.
        self.assertEqual(self.fake.tokens_issued, 2)

    def test_subscribe_unsubscribe_test(self):
        url = "https://hooks.example.com/v3"
        rc, out, err = self.ctct("subscribe", "account.disable", url, "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), {"id": 4, "event_type": "account.disable",
                                           "name": "Account Disabled", "subscribed": True,
                                           "callback": url})
        call = self.only_call()
        self.assertEqual((call["method"], call["path"]),
                         ("PUT", "/v3/partner/webhooks/subscriptions/4"))
        self.assertEqual(json.loads(call["body"]), {"hook_uri": url})
        self.check_auth(call, "tok-1")

        rc, out, err = self.ctct("unsubscribe", "4")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "unsubscribed topic 4 (account.disable)\n")
        self.assertEqual(self.fake.calls[-1]["method"], "DELETE")
        self.assertEqual(self.fake.calls[-1]["path"], "/v3/partner/webhooks/subscriptions/4")

        rc, out, err = self.ctct("test", "tier.increase")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "test notification requested for topic 1 (tier.increase)\n")
        self.assertEqual((self.fake.calls[-1]["method"], self.fake.calls[-1]["path"]),
                         ("POST", "/v3/partner/webhooks/subscriptions/1/tests"))
        rc, out, err = self.ctct("test", "1", "--json")
        self.assertEqual(json.loads(out), {"id": 1, "event_type": "tier.increase", "sent": True,
                                           "answer": None})

    def test_401_renews_the_token_once_and_retries(self):
        self.fake.refuse_next = 1
        rc, out, err = self.ctct("subscribe", "1", "https://hooks.example.com/r")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.fake.tokens_issued, 2)
        self.assertEqual(len(self.fake.calls), 2)
        self.check_auth(self.fake.calls[0], "tok-1")
        self.check_auth(self.fake.calls[1], "tok-2")
        self.check_token_call(1)

    def test_401_twice_fails_after_one_renewal(self):
        line = self.expect_fail(1, "", "topics", env={"CTCT_TEST_KEY": "wrong-key"})
        self.assertEqual(line, "hookd ctct: credentials refused (401): "
                               "check ctct.client_id/client_secret/api_key")
        self.assertEqual(self.fake.tokens_issued, 2)
        self.assertEqual(len(self.fake.calls), 2)

    def test_token_refused(self):
        line = self.expect_fail(1, "", "topics", env={"CTCT_TEST_SECRET": "bad-SECRET"})
        self.assertEqual(line, "hookd ctct: partner token refused (401): "
                               "check ctct.client_id/client_secret")
        self.assertEqual(self.fake.calls, [])
        self.assertEqual(len(self.fake.token_calls), 1)

    def test_token_endpoint_down(self):
        tok = f'"http://127.0.0.1:{closed_port()}/oauth2/token"'
        self.expect_fail(1, "cannot get a partner token from http://127.0.0.1:", "topics",
                         block=self.ctct_block(token_url=tok))
        self.assertEqual(self.fake.calls, [])

    def test_errors(self):
        self.fake.known = {1}
        self.expect_fail(1, "unknown topic 2 (tier.decrease) (404)", "unsubscribe", "2")
        self.fake.force = (406, None)
        self.expect_fail(1, "not acceptable (406)", "topics")
        self.fake.force = (502, None)
        self.expect_fail(1, "server error (HTTP 502)", "test", "1")

    def test_refusals_before_any_call(self):
        self.expect_fail(2, "https://", "subscribe", "1", "http://h/x")
        self.expect_fail(2, "512", "subscribe", "1", "https://h/" + "x" * 600)
        self.assertEqual(self.fake.calls, [])
        self.assertEqual(self.fake.token_calls, [])

    def test_v2_keys_refused(self):
        rc, out, err = self.ctct("topics", block=self.ctct_block(username="u"))
        self.assertEqual(rc, 2)
        self.assertRegex(err, r"ctct\.username: only used with api: v2")

    def test_check_line(self):
        path = self.write_config()
        r = self.run_cli("check", "-c", path, env={"CTCT_TEST_KEY": API_KEY,
                                                   "CTCT_TEST_SECRET": CLIENT_SECRET})
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn(f"ctct: api v3, base {self.fake.base}, token {self.fake.base}/oauth2/token", out)
        for s in SECRETS + (CLIENT_ID,):
            self.assertNotIn(s, out)
        self.assertEqual(self.fake.token_calls, [])


if __name__ == "__main__":
    unittest.main()
