"""The log as an operator reads it: one JSON object per line with time and
level; every refusal names the check that failed and the peer; and no
secret configured anywhere (Basic password, signing secrets, the outgoing
signing secret, an SMTP password), no Authorization header and no expected
MAC ever appears, whatever the senders do."""
import base64
import hashlib
import hmac
import json
import os
import socket
import unittest

from harness import (PASSWORD, PLUGIN_DIR, SECRET, USER, HookdCase, basic, ctct_body,
                     request_bytes, wait_for)

GH_SECRET = "gh-secret-Zq81"
SIGN_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SMTP_PASSWORD = "smtp-pass-Kx93"


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Logs(HookdCase):
    def config(self):
        dead = closed_port()
        return f"""\
server:
  listen: ["127.0.0.1:0"]
log: {{ level: debug, format: json }}
plugin_dir: {PLUGIN_DIR}
spool: {{ path: spool.db, sync: normal }}
sources:
  - name: constantcontact
    path: /webhooks/ctct
    auth: {{ basic: {{ username: {USER}, password: "{PASSWORD}" }} }}
    verify: {{ scheme: ctct-hmac-sha256, secret: "{SECRET}" }}
    event_type: /event_type
  - name: github
    path: /webhooks/github
    verify: {{ scheme: github, secret: "{GH_SECRET}" }}
    event_type: "header:X-GitHub-Event"
plugins:
  - name: audit
    use: file
    config: {{ path: {self.events} }}
  - name: out
    use: forward
    config: {{ url: "http://127.0.0.1:{dead}/in", sign: {{ scheme: standard-webhooks, secret: "{SIGN_SECRET}" }} }}
    retry: {{ attempts: 2, backoff: 50ms, max_backoff: 100ms }}
  - name: mail
    use: email
    config: {{ url: "smtp://127.0.0.1:{dead}", starttls: off, username: ops, password: "{SMTP_PASSWORD}",
              from: "hookd@example.com", to: ["ops@example.com"] }}
    retry: {{ attempts: 2, backoff: 50ms, max_backoff: 100ms }}
routes:
  - {{ match: "*", to: [audit, out, mail] }}
"""

    def test_json_lines_name_checks_and_leak_no_secret(self):
        h = self.hookd(self.config())
        body = ctct_body("account.cancel")
        good_mac = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())
        # Accepted, then refused in every way a sender can get wrong.
        self.assertEqual(h.post(body).status, 200)
        self.assertEqual(h.post(body, auth=False).status, 401)
        self.assertEqual(h.send(request_bytes(body, headers={
            "Authorization": basic(USER, "not-" + PASSWORD)})).status, 401)
        self.assertEqual(h.post(body, sig=False).status, 401)
        self.assertEqual(h.send(request_bytes(body, headers={
            "x-ctct-hmac-sha256": base64.b64encode(b"x" * 32).decode()})).status, 401)
        gh = b'{"zen":"hi"}'
        gh_mac = hmac.new(GH_SECRET.encode(), gh, hashlib.sha256).hexdigest()
        self.assertEqual(h.send(request_bytes(gh, path="/webhooks/github", auth=False, sig=False,
                                              headers={"X-GitHub-Event": "ping",
                                                       "X-Hub-Signature-256": "sha256=" + "0" * 64})
                                ).status, 401)
        # Both outbound plugins fail twice (nothing listens) and dead-letter.
        wait_for(lambda: h.run_log().count("dead-lettered") >= 2, 20, "two dead letters")
        self.assertEqual(h.stop(), 0)

        lines = [ln for ln in h.log_text().splitlines() if ln.strip()]
        self.assertGreater(len(lines), 8)
        objs = []
        for ln in lines:
            o = json.loads(ln)  # every line is one JSON object
            self.assertIn("time", o)
            self.assertIn(o["level"], ("debug", "info", "warn", "error"))
            self.assertIn("msg", o)
            objs.append(o)
        refusals = [o for o in objs if o["msg"].startswith("refused 401")]
        self.assertEqual(len(refusals), 5, refusals)
        for o in refusals:
            self.assertTrue(o.get("peer", "").startswith("127.0.0.1"), o)
        msgs = " | ".join(o["msg"] for o in refusals)
        for check in ("credentials", "x-ctct-hmac-sha256 header missing", "signature mismatch"):
            self.assertIn(check, msgs)

        text = h.log_text()
        secrets = {
            "basic password": PASSWORD, "ctct secret": SECRET, "github secret": GH_SECRET,
            "outgoing signing secret": SIGN_SECRET, "its key": SIGN_SECRET[len("whsec_"):],
            "smtp password": SMTP_PASSWORD, "Authorization value": basic().split()[1],
            "expected ctct MAC": good_mac.decode(), "expected github MAC": gh_mac,
        }
        for what, value in secrets.items():
            self.assertNotIn(value, text, f"the log shows the {what}")


if __name__ == "__main__":
    unittest.main()
