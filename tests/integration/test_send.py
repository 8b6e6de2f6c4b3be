"""`hookd send URL`: a signed test notification against a running hookd
(delivered end to end, refused with a wrong secret) and against a Python sink
(the exact headers for each scheme, extra headers, --json), network and usage
errors."""
import base64
import hashlib
import hmac
import json
import os
import socket
import time
import unittest

from harness import (PASSWORD, SECRET, USER, HookdCase, base_config, ctct_body, ctct_sig,
                     make_cert, read_lines, wait_for)
from test_forward import Sink, github_sig, stdwh_sig

WH_KEY = b"send-test-key-0123456789abcdef!!"
WH_SECRET = "whsec_" + base64.b64encode(WH_KEY).decode()
GH_SECRET = "It's a Secret to Everybody"


def parse_answer(text):
    """Default output: status line, headers, a blank line, the body."""
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, body


class AgainstHookd(HookdCase):
    def test_source_topic_is_delivered(self):
        h = self.hookd()
        r = self.run_cli("send", f"http://127.0.0.1:{h.port}/webhooks/ctct", "-c", "hookd.yaml",
                         "--source", "constantcontact", "--topic", "account.cancel")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(r.stderr, b"")
        status, headers, body = parse_answer(r.stdout.decode())
        self.assertEqual(status, 200, r.stdout)
        self.assertIn("content-type", headers)
        eid = json.loads(body)["id"]
        self.assertTrue(eid)
        [ev] = wait_for(lambda: read_lines(self.events), what="the event in events.jsonl")
        self.assertEqual(ev["type"], "account.cancel", ev)
        self.assertEqual(ev["id"], eid)
        self.assertNotIn(SECRET, r.stdout.decode() + r.stderr.decode())
        self.assertNotIn(PASSWORD, r.stdout.decode() + r.stderr.decode())

    def test_explicit_options_file_account_and_json(self):
        h = self.hookd()
        body = ctct_body("tier.decrease", "acct77")
        with open(os.path.join(self.dir, "body.json"), "wb") as f:
            f.write(body)
        url = f"http://127.0.0.1:{h.port}/webhooks/ctct"
        r = self.run_cli("--json", "send", url, "--scheme", "ctct-hmac-sha256", "--secret", SECRET,
                         "--user", USER, "--password", PASSWORD, "--file", "body.json")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = json.loads(r.stdout)
        self.assertEqual(out["status"], 200)
        self.assertEqual(set(out), {"status", "headers", "body", "ms"})
        self.assertIsInstance(out["ms"], int)
        self.assertIn("content-type", out["headers"])
        self.assertTrue(json.loads(out["body"])["id"])
        # The built-in sample with --account, from the source, options after the URL.
        r = self.run_cli("send", url, "--topic", "2", "--account", "acct88", "-c", "hookd.yaml",
                         "--source", "constantcontact")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        evs = wait_for(lambda: len(read_lines(self.events)) >= 2 and read_lines(self.events),
                       what="two events")
        self.assertEqual([e["type"] for e in evs], ["tier.decrease", "tier.decrease"])
        self.assertIn("acct77", json.dumps(evs[0]))
        self.assertIn("acct88", json.dumps(evs[1]))

    def test_wrong_secret_and_wrong_password_are_refused(self):
        h = self.hookd()
        url = f"http://127.0.0.1:{h.port}/webhooks/ctct"
        r = self.run_cli("send", url, "--scheme", "ctct-hmac-sha256", "--secret", "not-the-secret",
                         "--user", USER, "--password", PASSWORD, "--topic", "tier.increase")
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        status, _, body = parse_answer(r.stdout.decode())
        self.assertEqual(status, 401)
        self.assertIn("signature mismatch", body)
        err = r.stderr.decode()
        self.assertEqual(err.count("\n"), 1, err)
        self.assertIn("401", err)
        self.assertNotIn("not-the-secret", r.stdout.decode() + err)
        # The source's secret with a wrong password given on the command line.
        r = self.run_cli("send", url, "-c", "hookd.yaml", "--source", "constantcontact",
                         "--password", "wrong")
        self.assertEqual(r.returncode, 1)
        status, _, body = parse_answer(r.stdout.decode())
        self.assertEqual(status, 401)
        self.assertIn("basic credentials", body)
        self.assertEqual(read_lines(self.events), [])

    def test_https_verification(self):
        cert, key = make_cert(self.dir)
        h = self.hookd(tls=True, extra_server=f"  tls: {{ cert: {cert}, key: {key} }}\n")
        src = ("-c", "hookd.yaml", "--source", "constantcontact")
        url = f"https://localhost:{h.port}/webhooks/ctct"
        r = self.run_cli("send", url, *src)
        self.assertEqual(r.returncode, 1, "a self-signed certificate is refused by default")
        self.assertEqual(r.stdout, b"")
        self.assertEqual(r.stderr.decode().count("\n"), 1, r.stderr)
        r = self.run_cli("send", url, *src, "--ca-file", cert)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        r = self.run_cli("send", url.replace("localhost", "127.0.0.1"), *src, "--insecure")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(len(wait_for(lambda: len(read_lines(self.events)) >= 2 and
                                      read_lines(self.events), what="two events")), 2)


class AgainstSink(HookdCase):
    def sink(self, answers=None):
        s = Sink(answers)
        self.addCleanup(s.stop)
        return s

    def test_github_headers_and_extra_headers(self):
        sink = self.sink([(202, {"X-Answer": "yes"}, b"accepted")])
        body = b'{"zen":"Keep it logically awesome.",  "hook_id": 1}\n'
        with open(os.path.join(self.dir, "gh.json"), "wb") as f:
            f.write(body)
        r = self.run_cli("send", sink.url("/gh?x=1"), "--scheme", "github", "--secret", GH_SECRET,
                         "--file", "gh.json", "--header", "X-GitHub-Event: ping",
                         "--header", "Content-Type: application/vnd.test+json",
                         "--header", "X-Empty:")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        [q] = sink.got(1)
        self.assertEqual(q["method"], "POST")
        self.assertEqual(q["path"], "/gh?x=1")
        self.assertEqual(q["body"], body, "the file's exact bytes")
        hd = q["headers"]
        self.assertEqual(hd["x-hub-signature-256"], github_sig(GH_SECRET, body))
        self.assertEqual(hd["x-github-event"], "ping")
        self.assertEqual(hd["content-type"], "application/vnd.test+json")
        self.assertNotIn("authorization", hd)
        self.assertTrue(hd["user-agent"].startswith("hookd/"), hd)
        status, headers, out = parse_answer(r.stdout.decode())
        self.assertEqual(status, 202)
        self.assertEqual(headers["x-answer"], "yes")
        self.assertEqual(out, "accepted\n")
        self.assertNotIn("sha256=", r.stdout.decode() + r.stderr.decode(),
                         "no signature printed without --verbose")

    def test_standard_webhooks_headers_and_basic(self):
        sink = self.sink([(200, {}, b'{"ok":true}')])
        t0 = int(time.time())
        r = self.run_cli("send", sink.url("/wh"), "--scheme", "standard-webhooks",
                         "--secret", WH_SECRET, "--topic", "account.disable",
                         "--user", "u1", "--password", "p:w", "--json")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = json.loads(r.stdout)
        self.assertEqual((out["status"], out["body"]), (200, '{"ok":true}'))
        [q] = sink.got(1)
        hd, body = q["headers"], q["body"]
        self.assertEqual(json.loads(body), {
            "url": "https://api.constantcontact.com/v2/partner/accounts/a07e1ih151d0/plan",
            "event_type": "account.disable"})
        self.assertRegex(hd["webhook-id"], r"^msg_[0-9A-Za-z]{20,}$")
        self.assertLessEqual(abs(int(hd["webhook-timestamp"]) - t0), 5)
        self.assertEqual(hd["webhook-signature"],
                         stdwh_sig(WH_KEY, hd["webhook-id"], hd["webhook-timestamp"], body))
        self.assertEqual(hd["content-type"], "application/json")
        self.assertEqual(hd["authorization"], "Basic " + base64.b64encode(b"u1:p:w").decode())
        # A second send gets a new message id.
        r = self.run_cli("send", sink.url("/wh"), "--scheme", "standard-webhooks",
                         "--secret", WH_SECRET)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        q2 = sink.got(2)[1]
        self.assertNotEqual(q2["headers"]["webhook-id"], hd["webhook-id"])

    def test_stripe_and_ctct_signatures(self):
        sink = self.sink()
        r = self.run_cli("send", sink.url("/s"), "--scheme", "stripe", "--secret", "whsec_abc",
                         "--timestamp", "1700000000", "--topic", "tier.increase")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        r = self.run_cli("send", sink.url("/c"), "--scheme", "ctct-hmac-sha256",
                         "--secret", SECRET, "--verbose")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        s, c = sink.got(2)
        mac = hmac.new(b"whsec_abc", b"1700000000." + s["body"], hashlib.sha256).hexdigest()
        self.assertEqual(s["headers"]["stripe-signature"], f"t=1700000000,v1={mac}")
        self.assertEqual(c["body"], ctct_body("tier.increase"))
        self.assertEqual(c["headers"]["x-ctct-hmac-sha256"], ctct_sig(c["body"]))
        self.assertIn("x-ctct-hmac-sha256: " + ctct_sig(c["body"]), r.stderr.decode(),
                      "--verbose shows the request headers")
        self.assertNotIn(SECRET, r.stdout.decode() + r.stderr.decode())

    def test_non_2xx_answer_exits_1(self):
        sink = self.sink([(500, {}, b"broken")])
        r = self.run_cli("send", sink.url("/"), "--scheme", "none", "--json")
        self.assertEqual(r.returncode, 1)
        out = json.loads(r.stdout)
        self.assertEqual((out["status"], out["body"]), (500, "broken"))
        self.assertEqual(r.stderr.decode().count("\n"), 1, r.stderr)


class Errors(HookdCase):
    def test_network_error(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()   # nothing listens there now
        r = self.run_cli("send", f"http://127.0.0.1:{port}/webhooks/ctct", "--scheme",
                         "github", "--secret", "k", "--timeout", "5s")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, b"")
        err = r.stderr.decode()
        self.assertEqual(err.count("\n"), 1, err)
        self.assertTrue(err.startswith("hookd send: "), err)
        self.assertIn(str(port), err)

    def test_usage_errors(self):
        with open(os.path.join(self.dir, "hookd.yaml"), "w") as f:
            f.write(base_config(self.dir))
        url = "http://127.0.0.1:9/x"
        cases = [
            ("send",),                                                     # no URL
            ("send", url, "extra", "--scheme", "none"),                    # two URLs
            ("send", "ftp://127.0.0.1/x", "--scheme", "none"),             # not http(s)
            ("send", url),                                                 # no scheme/source
            ("send", url, "--scheme", "nope", "--secret", "k"),            # unknown scheme
            ("send", url, "--scheme", "github"),                           # no secret
            ("send", url, "--scheme", "none", "--topic", "tier.sideways"),
            ("send", url, "--scheme", "none", "--topic", "1", "--file", "x"),
            ("send", url, "--scheme", "none", "--account", "a/b"),
            ("send", url, "--scheme", "none", "--header", "no colon"),
            ("send", url, "--scheme", "none", "--timeout", "soon"),
            ("send", url, "--scheme", "none", "--timeout", "5"),           # no unit
            ("send", url, "--scheme", "standard-webhooks", "--secret", "not-whsec"),
            ("send", url, "-c", "hookd.yaml", "--source", "nosuch"),
            ("send", url, "--scheme", "none", "--bogus"),
        ]
        for args in cases:
            with self.subTest(args=args):
                r = self.run_cli(*args)
                self.assertEqual(r.returncode, 2, (r.stdout, r.stderr))
                self.assertEqual(r.stdout, b"")
                if "--bogus" not in args:
                    self.assertEqual(r.stderr.decode().count("\n"), 1, r.stderr)

    def test_help_mentions_send(self):
        r = self.run_cli("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("send URL", r.stdout.decode())


if __name__ == "__main__":
    unittest.main()
