"""The forward plugin against real HTTP(S) sinks on loopback: what is sent
(method, headers, exact bytes, signatures), how answers are judged (retry,
Retry-After, permanent failures, redirects), TLS verification, Slack
messages, and configuration errors caught at start-up."""
import base64
import email.utils
import hashlib
import hmac
import http.server
import json
import os
import ssl
import subprocess
import threading
import time
import unittest
import urllib.parse

from harness import HOOKD, VECTORS, HookdCase, base_config, ctct_body, make_cert, wait_for

SPOOL = "spool: { path: spool.db, sync: normal }\n"
WH_KEY = b"forward-test-key-0123456789abcdef"
WH_SECRET = "whsec_" + base64.b64encode(WH_KEY).decode()
GH_SECRET = "It's a Secret to Everybody"


def stdwh_sig(key: bytes, msg_id: str, ts: str, body: bytes) -> str:
    mac = hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def github_sig(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def instance(name, config, retry="{ attempts: 5, backoff: 100ms, max_backoff: 200ms }",
             timeout="5s", **extra):
    s = f"- name: {name}\n  use: forward\n  retry: {retry}\n  timeout: {timeout}\n"
    for k, v in extra.items():
        s += f"  {k}: {v}\n"
    return s + f"  config: {json.dumps(config)}\n"


def routes(*names):
    return f'  - {{ match: "*", to: [{", ".join(names)}] }}\n'


class Sink:
    """An HTTP(S) server on a free loopback port, in a thread. Records every
    request; answers with `answers` in turn (the last one repeats): (status,
    headers or a function giving them, body[, seconds to wait first])."""

    def __init__(self, answers=None, cert=None):
        self.answers = list(answers or [(200, {}, b"ok")])
        self.requests = []
        self.lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"   # keep-alive, so reuse is visible

            def answer(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with sink.lock:
                    sink.requests.append({
                        "t": time.monotonic(), "method": self.command, "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body, "port": self.client_address[1]})
                    status, hdrs, out, *delay = sink.answers.pop(0) if len(sink.answers) > 1 \
                        else sink.answers[0]
                time.sleep(delay[0] if delay else 0)
                if callable(hdrs):
                    hdrs = hdrs()
                self.send_response(status)
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_POST = do_PUT = do_GET = do_PATCH = do_DELETE = answer

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                sock, addr = self.socket.accept()
                if cert:   # the handshake runs in the handler's thread
                    sock = ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                return sock, addr

            def handle_error(self, request, client_address):
                pass   # refused handshakes are expected

        if cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*cert)
        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/", host="127.0.0.1", scheme="http"):
        return f"{scheme}://{host}:{self.port}{path}"

    def got(self, n=1):
        return wait_for(lambda: len(self.requests) >= n and self.requests, 20,
                        f"{n} request(s) at the sink")

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class ForwardCase(HookdCase):
    def sink(self, answers=None, cert=None):
        s = Sink(answers, cert)
        self.addCleanup(s.stop)   # after tearDown has stopped hookd
        return s

    def start(self, plugins, names):
        return self.hookd(base_config(self.dir, plugins=plugins, routes=routes(*names), top=SPOOL))

    def post(self, h, body):
        r = h.post(body)
        self.assertEqual(r.status, 200, r)
        return r.json()["id"]

    def cli_json(self, *args):
        r = self.run_cli("-c", "hookd.yaml", *args, "--json")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        return json.loads(r.stdout)

    def delivery(self, eid, plugin):
        [d] = [d for d in self.cli_json("events", "show", eid)["deliveries"]
               if d["plugin"] == plugin]
        return d

    def wait_state(self, eid, plugin, state, timeout=20):
        last = {}

        def pred():
            last["d"] = self.delivery(eid, plugin)
            return last["d"] if last["d"]["state"] == state else None
        try:
            return wait_for(pred, timeout, f"{plugin} {state}", 0.1)
        except AssertionError as e:
            raise AssertionError(f"{e}; last seen: {last.get('d')}; log:\n" +
                                 self.procs[-1].run_log()[-3000:]) from None


class Requests(ForwardCase):
    def test_python_verifiers_match_the_vectors(self):
        with open(os.path.join(VECTORS, "signatures.json")) as f:
            vs = {v["scheme"]: v for v in json.load(f)["vectors"]}
        gh, wh = vs["github"], vs["standard-webhooks"]
        self.assertEqual(github_sig(gh["secret"], gh["body"].encode()), gh["expected"])
        key = base64.b64decode(wh["secret"][len("whsec_"):])
        self.assertEqual(stdwh_sig(key, wh["webhook-id"], wh["webhook-timestamp"],
                                   wh["body"].encode()), wh["expected"])

    def test_signed_json_and_raw_bodies(self):
        sink = self.sink()
        tmpl = ('{"event":"{{type}}","account":"{{ctct.account_id}}","id":"{{id}}",'
                '"note":"{{json./note}}","n":{{json./n}}}')
        plugins = (
            instance("wh", {"url": sink.url("/json/{{type}}?acct={{ctct.account_id}}&note={{json./note}}"),
                            "method": "PUT", "body": "json", "template": tmpl,
                            "headers": {"X-Event-Id": "{{id}}", "X-Note": "{{json./note}}"},
                            "sign": {"scheme": "standard-webhooks", "secret": WH_SECRET},
                            "connect_timeout": "2s"}) +
            instance("gh", {"url": sink.url("/raw"), "connect_timeout": "3000ms",
                            "sign": {"scheme": "github", "secret": GH_SECRET}}))
        h = self.start(plugins, ["wh", "gh"])
        note = 'say "hi"\n\\ & ünïcode / ?x=1'
        # Odd spacing and a key order no re-encoding would keep: raw means raw.
        body = (b'{ "event_type" : "tier.increase",\n  "url": "https://api.constantcontact.com'
                b'/v2/partner/accounts/acc42/plan",  "note": ' +
                json.dumps(note).encode() + b', "n": 1.50e1 }\n')
        eid = self.post(h, body)
        reqs = sink.got(2)
        time.sleep(0.3)
        self.assertEqual(len(sink.requests), 2, "each instance delivers once")
        by = {r["path"].split("?")[0]: r for r in reqs}

        j = by["/json/tier.increase"]
        self.assertEqual(j["method"], "PUT")
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(j["path"]).query)
        self.assertEqual(q, {"acct": ["acc42"], "note": [note]}, "URL values are escaped")
        self.assertEqual(j["headers"]["content-type"], "application/json")
        self.assertEqual(j["headers"]["x-event-id"], eid)
        self.assertEqual(j["headers"]["x-note"], 'say "hi" \\ & ünïcode / ?x=1'.encode().decode("latin-1"),
                         "header values lose their newlines")
        self.assertTrue(j["headers"]["user-agent"].startswith("hookd/"), j["headers"])
        self.assertEqual(json.loads(j["body"]), {"event": "tier.increase", "account": "acc42",
                                                 "id": eid, "note": note, "n": 15.0})
        self.assertEqual(j["headers"]["webhook-id"], eid)
        ts = j["headers"]["webhook-timestamp"]
        self.assertLess(abs(int(ts) - time.time()), 60)
        self.assertEqual(j["headers"]["webhook-signature"], stdwh_sig(WH_KEY, eid, ts, j["body"]))

        r = by["/raw"]
        self.assertEqual(r["method"], "POST")
        self.assertEqual(r["body"], body, "raw: the exact bytes received")
        self.assertEqual(r["headers"]["content-type"], "application/json")
        self.assertEqual(r["headers"]["x-hub-signature-256"], github_sig(GH_SECRET, body))
        self.assertNotIn("webhook-signature", r["headers"])
        for name in ("wh", "gh"):
            self.assertEqual(self.wait_state(eid, name, "delivered")["attempts"], 1)

    def test_slack_message(self):
        sink = self.sink()
        blocks = [{"type": "section",
                   "text": {"type": "mrkdwn", "text": "*{{type}}* on {{ctct.account_id}}"}}]
        plugins = instance("slack", {"url": sink.url("/services/T0/B0/xyz"), "body": "slack",
                                     "text": "{{type}} for account {{ctct.account_id}}",
                                     "blocks": blocks})
        h = self.start(plugins, ["slack"])
        eid = self.post(h, ctct_body("account.cancel", "acct777"))
        [req] = sink.got(1)
        self.assertEqual(req["path"], "/services/T0/B0/xyz")
        self.assertEqual(req["headers"]["content-type"], "application/json")
        msg = json.loads(req["body"])
        self.assertEqual(msg["text"], "account.cancel for account acct777")
        self.assertEqual(msg["blocks"][0]["text"]["text"], "*account.cancel* on acct777")
        self.wait_state(eid, "slack", "delivered")


class Answers(ForwardCase):
    def test_500_twice_then_200_on_one_connection(self):
        sink = self.sink([(500, {}, b"oops"), (500, {}, b"oops"), (200, {}, b"ok")])
        h = self.start(instance("fw", {"url": sink.url("/hook")}), ["fw"])
        eid = self.post(h, ctct_body())
        d = self.wait_state(eid, "fw", "delivered")
        self.assertEqual(d["attempts"], 3, d)
        self.assertEqual([a["result"] for a in d["history"]], ["retry", "retry", "ok"], d)
        self.assertEqual(d["history"][0]["reason"], "HTTP 500 Internal Server Error: oops")
        self.assertEqual(len(sink.requests), 3)
        self.assertEqual(len({r["port"] for r in sink.requests}), 1,
                         "the connection is reused across attempts")

    def test_retry_after_seconds_and_date(self):
        date = lambda: {"Retry-After": email.utils.formatdate(time.time() + 3, usegmt=True)}
        sink = self.sink([(429, {"Retry-After": "2"}, b"slow down"),
                          (503, date, b""), (200, {}, b"")])
        h = self.start(instance("fw", {"url": sink.url("/hook")}), ["fw"])
        eid = self.post(h, ctct_body())
        d = self.wait_state(eid, "fw", "delivered", timeout=30)
        t = [r["t"] for r in sink.requests]
        self.assertEqual(len(t), 3)
        self.assertGreaterEqual(t[1] - t[0], 2.0, "Retry-After: 2 is honoured")
        self.assertLess(t[1] - t[0], 4.0)
        self.assertGreaterEqual(t[2] - t[1], 1.5, "a Retry-After date is honoured")
        self.assertEqual(d["history"][0]["reason"], "HTTP 429 Too Many Requests: slow down")

    def test_deadline_bounds_the_exchange(self):
        sink = self.sink([(200, {}, b"late", 3.0), (200, {}, b"")])
        h = self.start(instance("fw", {"url": sink.url("/slow")}, timeout="1s"), ["fw"])
        eid = self.post(h, ctct_body())
        d = self.wait_state(eid, "fw", "delivered")
        first = d["history"][0]
        self.assertEqual([a["result"] for a in d["history"]], ["retry", "ok"], d)
        self.assertIn("timed out", first["reason"])
        self.assertLess(first["duration_ms"], 1800, "the 1 s timeout cut the exchange")

    def test_400_fails_at_once_and_3xx_is_not_followed(self):
        answer = b"bad\r\nthing\x01 " + b"x" * 300
        sink = self.sink([(400, {}, answer)])
        moved = self.sink([(302, {"Location": sink.url("/elsewhere")}, b"")])
        # A string placed outside quotes: the rendered text is not JSON.
        plugins = (instance("fw", {"url": sink.url("/hook")}) +
                   instance("redir", {"url": moved.url("/old")}) +
                   instance("badjson", {"url": sink.url("/json"), "body": "json",
                                        "template": '{"type": {{type}}}'}))
        h = self.start(plugins, ["fw", "redir", "badjson"])
        eid = self.post(h, ctct_body())
        d = self.wait_state(eid, "fw", "dead")
        r = self.wait_state(eid, "redir", "dead")
        j = self.wait_state(eid, "badjson", "dead")
        time.sleep(0.5)   # a retry would be due by now (backoff 100 ms)
        self.assertEqual(d["attempts"], 1, d)
        self.assertEqual(len(sink.requests), 1, "a 400 is not retried")
        # The first 200 bytes, on one line: 12 bytes of words and controls, 188 x.
        self.assertEqual(d["reason"], "HTTP 400 Bad Request: bad thing " + "x" * 188)
        self.assertEqual(r["attempts"], 1, r)
        self.assertEqual(len(moved.requests), 1)
        self.assertIn("HTTP 302", r["reason"])
        self.assertIn("redirect not followed", r["reason"])
        self.assertEqual(j["attempts"], 1, j)
        self.assertIn("template: the rendered text is not JSON", j["reason"])
        self.assertEqual([q["path"] for q in sink.requests], ["/hook"], "nothing sent for it")
        dead = {x["plugin"]: x for x in self.cli_json("dead")}
        self.assertEqual(dead["fw"]["reason"], d["reason"])


class Tls(ForwardCase):
    def test_self_signed_refused_unless_ca_file(self):
        cert = make_cert(self.dir)
        sink = self.sink(cert=cert)
        url = sink.url("/tls", host="localhost", scheme="https")
        plugins = (instance("plain", {"url": url}, retry="{ attempts: 1, backoff: 100ms }") +
                   instance("pinned", {"url": url, "ca_file": cert[0]}))
        h = self.start(plugins, ["plain", "pinned"])
        eid = self.post(h, ctct_body())
        self.wait_state(eid, "pinned", "delivered")
        d = self.wait_state(eid, "plain", "dead")
        self.assertIn("certificate", d["reason"])
        self.assertEqual(len(sink.requests), 1, "only the instance that trusts it delivers")


class Config(ForwardCase):
    def check(self, config, *expect):
        text = base_config(self.dir, plugins=instance("fw", config), routes=routes("fw"))
        with open(os.path.join(self.dir, "bad.yaml"), "w") as f:
            f.write(text)
        r = self.run_cli("check", "-c", "bad.yaml")
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 2, err)
        for e in expect:
            self.assertIn(e, err)
        # Start-up refuses it the same way, before listening.
        p = subprocess.run([HOOKD, "run", "-c", "bad.yaml"], cwd=self.dir, capture_output=True,
                           timeout=15)
        self.assertEqual(p.returncode, 2, p.stderr.decode())
        self.assertIn(expect[0], p.stderr.decode())
        return err

    def test_unknown_template_name(self):
        self.check({"url": "http://127.0.0.1:9/{{nope}}"},
                   'unknown template name "nope"', "plugins[0].config", "url")
        self.check({"url": "http://127.0.0.1:9/", "body": "json",
                    "template": {"a": ["{{type}}", "{{bogus}}"]}}, 'unknown template name "bogus"')

    def test_unknown_key_and_bad_values(self):
        self.check({"url": "http://127.0.0.1:9/", "retries": 3}, 'unknown key "retries"')
        self.check({"url": "http://127.0.0.1:9/", "sign": {"scheme": "github", "secret": "s",
                                                           "algo": 1}}, 'unknown key "sign.algo"')
        err = self.check({"url": "http://127.0.0.1:9/",
                          "sign": {"scheme": "standard-webhooks", "secret": "whsec_!!not-b64!!"}},
                         "sign.secret")
        self.assertNotIn("not-b64", err, "a secret is never echoed")
        self.check({"url": "ftp://127.0.0.1/"}, "http:// or https://")
        self.check({"url": "http://127.0.0.1:9/", "body": "slack"}, "text")

    def test_bare_number_timeout_is_refused(self):
        # One duration grammar: 5 is neither 5 ms nor 5 s, it is an error
        # that names the file, the place and the key.
        for bare in (5, "5"):
            err = self.check({"url": "http://127.0.0.1:9/", "connect_timeout": bare},
                             "connect_timeout")
            self.assertRegex(err, r"bad\.yaml:\d+:\d+: plugins\[0\]\.config: fw: "
                                  r"connect_timeout: ")


if __name__ == "__main__":
    unittest.main()
