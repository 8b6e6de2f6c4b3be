"""Constant Contact enrichment (`enrich: ctct-plan`) against a fake Constant
Contact API on loopback: the plan is fetched once per event with the partner's
credentials, kept in the spool, offered to plugins and templates; a 5xx is
retried with the delivery back-off; a 404 or a url outside the rule runs the
plugins without it, and a refused url never receives the credentials."""
import base64
import json
import os
import sqlite3
import subprocess
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from harness import HOOKD, PASSWORD, SECRET, USER, base_config, read_lines
from test_spool import SPOOL, SpoolCase, instance, route

API_KEY, API_USER, API_PASS = "ctct-api-key", "partner-login", "partner-pass"
CLIENT_ID, CLIENT_SECRET = "partner-client", "partner-client-secret"
PLAN = {"plan_type": "GOLD", "billing_status": "Open", "billing_day_of_month": 29,
        "current_tiers": [{"usage_type": "CONTACTS", "tier": 1, "tier_max": 500.0}]}
FAST_RETRY = "{ attempts: 20, backoff: 100ms, max_backoff: 200ms }"


class FakeCtct:
    """GET /v2/partner/accounts/{id}/plan. `script` maps an account id to a
    list of statuses answered in turn (the last one repeats)."""

    def __init__(self):
        self.calls, self.lock, self.script = [], threading.Lock(), {}
        self.tokens = []          # v3: tokens issued, the last one valid
        fake = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):  # the v3 token endpoint
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                want = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                ok = (self.path == "/token" and self.headers.get("Authorization") == want and
                      form.get("grant_type") == ["client_credentials"])
                with fake.lock:
                    tok = f"tok-{len(fake.tokens) + 1}"
                    if ok:
                        fake.tokens.append(tok)
                body = json.dumps({"access_token": tok, "token_type": "Bearer",
                                   "expires_in": 3600} if ok else {"error": "invalid_client"})
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def do_GET(self):
                u = urlparse(self.path)
                parts = u.path.strip("/").split("/")
                with fake.lock:
                    fake.calls.append({"path": u.path, "query": parse_qs(u.query),
                                       "auth": self.headers.get("Authorization"),
                                       "key": self.headers.get("x-api-key")})
                    acct = parts[3] if len(parts) == 5 else ""
                    seq = fake.script.get(acct, [200])
                    status = seq.pop(0) if len(seq) > 1 else seq[0]
                    if parts[0] == "v3" and (self.headers.get("x-api-key") != API_KEY or
                                             not fake.tokens or
                                             self.headers.get("Authorization") != fake.tokens[-1]):
                        status = 401
                body = json.dumps(dict(PLAN, account=acct) if status == 200
                                  else {"error": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def calls_for(self, acct):
        with self.lock:
            return [c for c in self.calls if f"/accounts/{acct}/" in c["path"]]


class Enrichment(SpoolCase):
    def setUp(self):
        super().setUp()
        self.api = FakeCtct()
        self.addCleanup(self.api.close)
        self.out2 = os.path.join(self.dir, "second.jsonl")

    def body(self, acct, event_type="account.cancel", url=None, v="v2"):
        url = url or f"{self.api.base}/{v}/partner/accounts/{acct}/plan"
        return json.dumps({"url": url, "event_type": event_type},
                          separators=(",", ":")).encode()

    def start(self, extra_plugins="", extra_to="", v3=False,
              verify=f"{{ scheme: ctct-hmac-sha256, secret: \"{SECRET}\" }}"):
        source = (f"- name: constantcontact\n"
                  f"  path: /webhooks/ctct\n"
                  f"  auth: {{ basic: {{ username: {USER}, password: \"{PASSWORD}\" }} }}\n"
                  f"  verify: {verify}\n"
                  f"  event_type: /event_type\n"
                  f"  enrich: ctct-plan\n")
        if v3:
            top = SPOOL + (f"ctct: {{ api: v3, base_url: \"{self.api.base}\", api_key: {API_KEY},"
                           f" client_id: {CLIENT_ID}, client_secret: {CLIENT_SECRET},"
                           f" token_url: \"{self.api.base}/token\" }}\n")
        else:
            top = SPOOL + (f"ctct: {{ api: v2, base_url: \"{self.api.base}\", api_key: {API_KEY},"
                           f" username: {API_USER}, password: {API_PASS} }}\n")
        plugins = (instance("audit", "file", {"path": self.events}, retry=FAST_RETRY) +
                   instance("second", "file", {"path": self.out2}, retry=FAST_RETRY) +
                   extra_plugins)
        to = ("audit", "second") + ((extra_to,) if extra_to else ())
        return self.hookd(base_config(self.dir, sources=source, plugins=plugins,
                                      routes=route("*", *to), top=top))

    def line_for(self, path, eid):
        lines = [x for x in read_lines(path) if x["id"] == eid]
        return lines[0] if lines else None

    def test_plan_fetched_once_and_attached(self):
        h = self.start()
        eid = self.post_ok(h, self.body("acct1"))
        self.wait_state(eid, "audit", "delivered")
        self.wait_state(eid, "second", "delivered")
        for path in (self.events, self.out2):
            line = self.poll(lambda: self.line_for(path, eid), what="the file line")
            ctct = line["enrichment"]["ctct"]
            self.assertEqual(ctct["account_id"], "acct1")
            self.assertEqual(ctct["plan"]["plan_type"], "GOLD")
            self.assertEqual(ctct["plan"]["billing_status"], "Open")
        # Two deliveries, one fetch, with the partner's credentials.
        calls = self.api.calls_for("acct1")
        self.assertEqual(len(calls), 1, calls)
        self.assertEqual(calls[0]["query"].get("api_key"), [API_KEY])
        want = "Basic " + base64.b64encode(f"{API_USER}:{API_PASS}".encode()).decode()
        self.assertEqual(calls[0]["auth"], want)
        # Kept with the event: shown, and a replay does not fetch it again.
        self.assertEqual(self.show(eid)["enrichment"]["ctct"]["plan"]["plan_type"], "GOLD")
        r = self.cli("replay", eid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.poll(lambda: len([x for x in read_lines(self.events) if x["id"] == eid]) == 2,
                  what="the replayed delivery")
        self.assertEqual(len(self.api.calls_for("acct1")), 1)
        self.assertNotIn(API_PASS, h.log_text())
        self.assertNotIn(API_KEY, h.log_text())

    def test_server_error_retried_with_backoff(self):
        self.api.script["acct5"] = [503, 500, 200]
        h = self.start()
        eid = self.post_ok(h, self.body("acct5"))
        # Either delivery may be the one that fetches; between them they saw both errors.
        reasons = []
        for name in ("audit", "second"):
            d = self.wait_state(eid, name, "delivered")
            reasons += [a.get("reason") or "" for a in d["history"]]
        for code in ("503", "500"):
            self.assertTrue(any(r.startswith("enrichment:") and code in r for r in reasons),
                            reasons)
        line = self.poll(lambda: self.line_for(self.events, eid), what="the file line")
        self.assertEqual(line["enrichment"]["ctct"]["plan"]["plan_type"], "GOLD")
        self.assertEqual(len(self.api.calls_for("acct5")), 3)

    def test_not_found_delivers_without_plan(self):
        self.api.script["gone"] = [404]
        h = self.start()
        eid = self.post_ok(h, self.body("gone"))
        d = self.wait_state(eid, "audit", "delivered")
        self.assertEqual(d["attempts"], 1, d)
        line = self.poll(lambda: self.line_for(self.events, eid), what="the file line")
        ctct = line["enrichment"]["ctct"]
        self.assertNotIn("plan", ctct)
        self.assertIn("404", ctct["error"])
        self.assertEqual(ctct["account_id"], "gone")
        self.assertEqual(len(self.api.calls_for("gone")), 1)
        self.assertIn("enrichment failed", h.run_log())

    def test_refused_url_sends_nothing(self):
        h = self.start()
        # Same fake server, but not the configured base (a forged body).
        forged = f"http://localhost:{self.api.port}/v2/partner/accounts/evil/plan"
        eid = self.post_ok(h, self.body("evil", url=forged))
        self.wait_state(eid, "audit", "delivered")
        line = self.poll(lambda: self.line_for(self.events, eid), what="the file line")
        self.assertNotIn("plan", line["enrichment"]["ctct"])
        self.assertTrue(line["enrichment"]["ctct"]["error"])
        self.assertEqual(self.api.calls, [])

    def test_v3_token_cached_and_renewed_after_401(self):
        h = self.start(v3=True)
        e1 = self.post_ok(h, self.body("v3a", v="v3"))
        e2 = self.post_ok(h, self.body("v3b", v="v3"))
        for eid in (e1, e2):
            self.wait_state(eid, "audit", "delivered")
        line = self.poll(lambda: self.line_for(self.events, e2), what="the file line")
        self.assertEqual(line["enrichment"]["ctct"]["plan"]["plan_type"], "GOLD")
        self.assertEqual(self.api.tokens, ["tok-1"])   # one token for both events
        # The API stops accepting it (revoked): one 401, a new token, success.
        with self.api.lock:
            self.api.tokens.append("revoked-elsewhere")
        e3 = self.post_ok(h, self.body("v3c", v="v3"))
        self.wait_state(e3, "audit", "delivered")
        line = self.poll(lambda: self.line_for(self.events, e3), what="the file line")
        self.assertEqual(line["enrichment"]["ctct"]["plan"]["plan_type"], "GOLD")
        self.assertEqual(self.api.tokens[-1], "tok-3")
        calls = self.api.calls_for("v3c")
        self.assertEqual([c["auth"] for c in calls], ["tok-1", "tok-3"])
        self.assertTrue(all(c["key"] == API_KEY for c in calls))
        self.assertNotIn(CLIENT_SECRET, h.log_text())

    def v3_key(self):
        """An RSA key of our own and its key set file, as a partner would
        mirror Constant Contact's (jwks_file)."""
        key, jwks = os.path.join(self.dir, "v3.pem"), os.path.join(self.dir, "jwks.json")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", key], check=True, capture_output=True)
        mod = subprocess.run(["openssl", "rsa", "-in", key, "-noout", "-modulus"], check=True,
                             capture_output=True, text=True).stdout.strip().split("=", 1)[1]
        n = base64.urlsafe_b64encode(bytes.fromhex(mod)).rstrip(b"=").decode()
        with open(jwks, "w") as f:
            json.dump({"keys": [{"kty": "RSA", "kid": "v3", "use": "sig", "n": n, "e": "AQAB"}]}, f)
        return key, jwks

    def test_v3_notification_like_v2(self):
        """A v3 body signed with X-CTCT-WEBHOOK-SIG flows like a v2 one: the
        plan fetched through the v3 API, {{ctct.account_id}} in templates,
        the account row in the database plugin."""
        key, jwks = self.v3_key()
        dbpath = os.path.join(self.dir, "accounts.db")
        db = instance("db", "database", {"driver": "sqlite", "path": dbpath,
                                         "mode": "ctct-accounts"}, retry=FAST_RETRY)
        h = self.start(extra_plugins=db, extra_to="db", v3=True,
                       verify=f"{{ scheme: ctct-jws, jwks_file: {jwks} }}")
        body = json.dumps({"url": f"{self.api.base}/v3/partner/accounts/v3acct/plan",
                           "api_key": API_KEY, "event_type": "tier.decrease"},
                          separators=(",", ":")).encode()
        bodyfile = os.path.join(self.dir, "v3.json")
        with open(bodyfile, "wb") as f:
            f.write(body)
        sig = subprocess.run([HOOKD, "sign", "--scheme", "ctct-jws", "--key", key, "--kid", "v3",
                              "--file", bodyfile], check=True, capture_output=True,
                             text=True).stdout.strip()
        name, value = sig.split(": ", 1)
        self.assertEqual(name, "X-CTCT-WEBHOOK-SIG")
        # Without the v3 header (an HMAC alone) the source refuses it.
        r = h.post(body)
        self.assertEqual(r.status, 401, r)
        self.assertIn("X-CTCT-WEBHOOK-SIG header missing", r.json()["error"])
        eid = self.post_ok(h, body, sig=False, headers={name: value})
        self.wait_state(eid, "db", "delivered")
        line = self.poll(lambda: self.line_for(self.events, eid), what="the file line")
        ctct = line["enrichment"]["ctct"]
        self.assertEqual(ctct["account_id"], "v3acct")
        self.assertEqual(ctct["plan"]["plan_type"], "GOLD")
        calls = self.api.calls_for("v3acct")
        self.assertEqual(len(calls), 1, calls)
        self.assertEqual(calls[0]["key"], API_KEY)
        con = sqlite3.connect(dbpath)
        row = con.execute("SELECT status, plan_type, last_event_id FROM ctct_accounts"
                          " WHERE account_id = 'v3acct'").fetchone()
        con.close()
        self.assertEqual(row, ("active", "GOLD", eid))

    def test_plan_reaches_the_database(self):
        dbpath = os.path.join(self.dir, "accounts.db")
        db = instance("db", "database", {"driver": "sqlite", "path": dbpath,
                                         "mode": "ctct-accounts"}, retry=FAST_RETRY)
        h = self.start(extra_plugins=db, extra_to="db")
        eid = self.post_ok(h, self.body("acct7", "tier.increase"))
        self.wait_state(eid, "db", "delivered")
        con = sqlite3.connect(dbpath)
        row = con.execute("SELECT status, plan_type, billing_status, last_event_id"
                          " FROM ctct_accounts WHERE account_id = 'acct7'").fetchone()
        con.close()
        self.assertEqual(row, ("active", "GOLD", "Open", eid))

    def test_plan_in_templates(self):
        sink = []

        class S(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                sink.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(204)
                self.end_headers()
        srv = ThreadingHTTPServer(("127.0.0.1", 0), S)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        fwd = instance("fwd", "forward", {
            "url": f"http://127.0.0.1:{srv.server_address[1]}/in", "body": "json",
            "template": '{"t":"{{type}}","a":"{{ctct.account_id}}","p":"{{ctct.plan.plan_type}}",'
                        '"b":"{{ctct.plan.billing_status}}"}'}, retry=FAST_RETRY)
        h = self.start(extra_plugins=fwd, extra_to="fwd")
        eid = self.post_ok(h, self.body("acct9", "tier.increase"))
        self.wait_state(eid, "fwd", "delivered")
        self.assertEqual(json.loads(sink[0]),
                         {"t": "tier.increase", "a": "acct9", "p": "GOLD", "b": "Open"})


if __name__ == "__main__":
    unittest.main()
