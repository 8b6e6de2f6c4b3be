"""Constant Contact v3 signatures (verify.scheme: ctct-jws): a compact JWS
with a detached, unencoded payload (RFC 7515 + RFC 7797) in
X-CTCT-WEBHOOK-SIG, checked against a key set that hookd reads from a local
HTTP server (started, stopped, made to fail or to serve another set by the
tests). Everything is signed and checked independently of hookd with
jwcrypto; hostile headers are built by hand. What a sender sees: the status,
the answer's error text, the file plugin's lines, the log, /metrics, and the
output and exit code of hookd check / sign / send."""
import json
import os
import re
import subprocess
import threading
import time
import unittest

from harness import (HOOKD, PASSWORD, SECRET, USER, HookdCase, base_config, ctct_sig, make_cert,
                     read_lines, request_bytes, wait_for)
from jws_keys import (ADMIN, HDR, KEEP, NEED_JWCRYPTO, PATH, SPOOL, SRC, KeyServer, b64u,
                      b64u_dec, early_in_second, free_port, good_header, jwcrypto_verify, jwk,
                      jwks_doc, jws, key, now_s, raw_sign, read_json, sign, source, v3_body)
from test_admin import admin_port, scrape, val
from test_forward import Sink, instance

@unittest.skipIf(jwk is None, NEED_JWCRYPTO)
class JwsCase(HookdCase):
    def setUp(self):
        super().setUp()
        self.keys = KeyServer(jwks_doc("k1", "e1", "k3"))
        self.addCleanup(self.keys.stop)  # after tearDown has stopped hookd

    def config(self, verify=None, top=ADMIN + SPOOL, plugins=None, routes=None):
        verify = verify or f'{{ scheme: ctct-jws, jwks_url: "{self.keys.url()}", tolerance: 300s, refresh: 1h }}'
        return base_config(self.dir, top=top, sources=source(verify), plugins=plugins, routes=routes)

    def start(self, verify=None, wait_keys=True, **kw):
        h = self.hookd(self.config(verify, **kw))
        if wait_keys:
            wait_for(lambda: self.reads(h)[0] >= 1, what="the first read of the key set")
        return h

    def reads(self, h):
        """(reads ok, reads failed, keys in the set) from /metrics."""
        _, _, s = scrape(admin_port(h))
        return (val(s, "hookd_jwks_reads_total", source=SRC, result="ok"),
                val(s, "hookd_jwks_reads_total", source=SRC, result="error"),
                val(s, "hookd_jwks_keys", source=SRC))

    def failures(self, h):
        _, _, s = scrape(admin_port(h))
        return {dict(k[1])["reason"]: v for k, v in s.items()
                if k[0] == "hookd_verify_failures_total" and dict(k[1]).get("source") == SRC}

    def post3(self, h, body, sig, v2=None):
        """A v3 notification: Basic credentials, X-CTCT-WEBHOOK-SIG = sig
        (None: no header), and the v2 header only when v2 is given."""
        hdrs = {HDR: sig}
        if v2 is not None:
            hdrs["x-ctct-hmac-sha256"] = v2
        return h.send(request_bytes(body, path=PATH, sig=False, headers=hdrs))

    def assertAccepted(self, r, body, n=1):
        self.assertEqual(r.status, 200, r)
        eid = r.json()["id"]
        lines = wait_for(lambda: len(read_lines(self.events)) >= n and read_lines(self.events),
                         what=f"{n} line(s) in the file plugin's output")
        ev = [l for l in lines if l["id"] == eid]
        self.assertEqual(len(ev), 1, lines)
        self.assertEqual(ev[0]["source"], SRC)
        self.assertEqual(ev[0]["body"], json.loads(body))
        self.assertEqual(ev[0]["type"], json.loads(body)["event_type"])
        return ev[0]

    def assertRefused(self, r, check):
        self.assertEqual(r.status, 401, r)
        err = r.json()["error"]
        if isinstance(check, str):
            self.assertIn(check, err, r)
        else:
            self.assertTrue(any(c in err for c in check), f"{r} names none of {check}")
        return err

    def assertNothingStored(self):
        time.sleep(0.2)
        self.assertEqual(read_lines(self.events), [])


class Accepted(JwsCase):
    def test_rs256_with_kid(self):
        h = self.start()
        body = v3_body("tier.increase", "acct0001")
        r = self.post3(h, body, sign(key("k1"), body))
        ev = self.assertAccepted(r, body)
        self.assertRegex(ev["id"], r"^[0-9A-HJKMNP-TV-Z]{26}$")

    def test_es256_ps256_and_no_kid(self):
        h = self.start()
        cases = [("ES256 e1", key("e1"), "ES256", ""),
                 ("PS256 k1", key("k1"), "PS256", ""),
                 ("RS256 no kid, first RSA key", key("k1"), "RS256", None),
                 ("RS256 no kid, a later RSA key", key("k3"), "RS256", None),
                 ("PS256 no kid", key("k3"), "PS256", None),
                 ("ES256 no kid", key("e1"), "ES256", None)]
        for i, (what, k, alg, kid) in enumerate(cases, 1):
            with self.subTest(what):
                body = v3_body("tier.decrease", f"acct{i:04d}")
                value = sign(k, body, alg=alg, kid=kid)
                self.assertEqual(json.loads(b64u_dec(value.split(".")[0]))["alg"], alg)
                self.assertAccepted(self.post3(h, body, value), body, i)
        self.assertEqual(len(read_lines(self.events)), len(cases))

    def test_timestamp_inside_tolerance(self):
        h = self.start()
        early_in_second()
        for i, ts in enumerate((now_s() - 299, now_s() + 299), 1):
            body = v3_body("account.cancel", f"acct{i}")
            self.assertAccepted(self.post3(h, body, sign(key("k1"), body, ts=ts)), body, i)

    def test_account_id_template_from_v3_url(self):
        sink = Sink()
        self.addCleanup(sink.stop)
        plugins = (f"- name: audit\n  use: file\n  config: {{ path: {self.events} }}\n" +
                   instance("fwd", {"url": sink.url("/acct/{{ctct.account_id}}/{{type}}")}))
        h = self.start(plugins=plugins, routes='  - { match: "*", to: [audit, fwd] }\n')
        body = v3_body("tier.increase", "a07e1ih151d0")
        self.assertAccepted(self.post3(h, body, sign(key("k1"), body)), body)
        [req] = sink.got(1)
        self.assertEqual(req["path"], "/acct/a07e1ih151d0/tier.increase")
        self.assertEqual(req["body"], body)


class Refused(JwsCase):
    def hostile(self):
        """(what, header value, body sent, the check's words)."""
        body = v3_body()
        k1, pem = key("k1"), key("k1").export_to_pem()  # the public key's PEM bytes
        hs_key = jwk.JWK(kty="oct", k=b64u(pem))
        pub = json.loads(k1.export_public())
        attached = jws.JWS(b'{"event_type":"tier_increase"}')
        attached.add_signature(k1, alg=None, protected=json.dumps(good_header()))
        a_b_c = attached.serialize(compact=True)
        assert a_b_c.count(".") == 2 and a_b_c.split(".")[1], a_b_c
        good = sign(k1, body)
        prot, _, sig = good.partition("..")
        return [
            ("alg none", raw_sign(k1, body, good_header(alg="none"), alg="RS256"), body,
             "unsupported alg"),
            ("alg none, empty signature", b64u(json.dumps(good_header(alg="none")).encode()) + "..",
             body, ("malformed JWS", "unsupported alg")),
            ("HS256 keyed with the public PEM", raw_sign(hs_key, body, good_header(alg="HS256")),
             body, "unsupported alg"),
            ("alg RS512", raw_sign(k1, body, good_header(alg="RS512")), body, "unsupported alg"),
            ("jwk in header", raw_sign(k1, body, good_header(jwk=pub)), body,
             "keys in the header are refused"),
            ("jku in header", raw_sign(k1, body, good_header(jku=self.keys.url())), body,
             "keys in the header are refused"),
            ("x5u in header", raw_sign(k1, body, good_header(x5u="https://127.0.0.1/c.pem")), body,
             "keys in the header are refused"),
            ("x5c in header", raw_sign(k1, body, good_header(x5c=[b64u(b"not a cert")])), body,
             "keys in the header are refused"),
            ("b64 missing", raw_sign(k1, body, good_header(b64=None)), body, "b64 must be false"),
            ("b64 missing, crit missing", raw_sign(k1, body, good_header(b64=None, crit=None)),
             body, "b64 must be false"),
            ("b64 true", raw_sign(k1, body, good_header(b64=True)), body, "b64 must be false"),
            ("b64 \"false\"", raw_sign(k1, body, good_header(b64="false")), body,
             "b64 must be false"),
            ("crit missing", raw_sign(k1, body, good_header(crit=None)), body, "unknown crit"),
            ("crit [b64, exp]", raw_sign(k1, body, good_header(crit=["b64", "exp"])), body,
             "unknown crit"),
            ("crit [exp]", raw_sign(k1, body, good_header(crit=["exp"])), body, "unknown crit"),
            ("ts 301 s old", sign(k1, body, ts=now_s() - 301), body,
             "timestamp outside tolerance"),
            ("ts 301 s ahead", lambda: sign(k1, body, ts=now_s() + 301), body,
             "timestamp outside tolerance"),
            ("ts as string", raw_sign(k1, body, good_header(ts=str(now_s()))), body,
             "ts missing or not an integer"),
            ("ts missing", raw_sign(k1, body, good_header(ts=None)), body,
             "ts missing or not an integer"),
            ("attached payload (jwcrypto a.b.c)", a_b_c, b'{"event_type":"tier_increase"}',
             "malformed JWS"),
            ("attached payload (base64url middle)",
             raw_sign(k1, body, good_header(), middle=b64u(body)), body, "malformed JWS"),
            ("unknown kid", sign(k1, body, kid="nobody"), body, "unknown key"),
            ("ES256 naming an RSA kid", sign(key("e1"), body, alg="ES256", kid="k1"), body,
             "unknown key"),
            ("another key with the same kid", sign(key("k1-other"), body), body,
             "signature mismatch"),
            ("another key, no kid", sign(key("k1-other"), body, kid=None), body,
             "signature mismatch"),
            ("body changed by one byte", good, body.replace(b"tier.increase", b"tier.increasf"),
             "signature mismatch"),
            ("signature cut short", prot + ".." + sig[:-4], body,
             ("signature mismatch", "malformed JWS")),
            ("no header", None, body, "X-CTCT-WEBHOOK-SIG header missing"),
            ("garbage", "garbage!!", body, "malformed JWS"),
            ("garbage with dots", "e30..!!!!", body, "malformed JWS"),
            ("three parts, none empty", "a.b.c", body, "malformed JWS"),
        ]

    def test_each_refusal_names_its_check(self):
        h = self.start()
        cases = self.hostile()
        for what, value, body, check in cases:
            with self.subTest(what):
                if callable(value):  # made at the last moment: hookd's clock is the same second
                    early_in_second()
                    value = value()
                self.assertRefused(self.post3(h, body, value), check)
        self.assertNothingStored()
        # Each refusal is counted once, by reason; none is the 503's.
        f = self.failures(h)
        self.assertEqual(sum(f.values()), len(cases), f)
        self.assertEqual(f.get("missing"), 1, f)
        self.assertEqual(f.get("no_key_set", 0), 0, f)
        self.assertGreaterEqual(f.get("expired", 0), 2, f)
        # The same good signature still passes: nothing above spoilt the state.
        body = v3_body()
        self.assertAccepted(self.post3(h, body, sign(key("k1"), body)), body)

    def test_basic_credentials_still_required(self):
        h = self.start()
        body = v3_body()
        raw = request_bytes(body, path=PATH, sig=False, auth=False,
                            headers={HDR: sign(key("k1"), body)})
        r = h.send(raw)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.headers.get("www-authenticate"), 'Basic realm="hookd"')
        self.assertNothingStored()

    def test_log_never_holds_the_signature(self):
        h = self.start()
        body = v3_body()
        values = [sign(key("k1"), body), sign(key("k1-other"), body),
                  sign(key("k1"), body, kid="nobody"), sign(key("k1"), body, ts=now_s() - 999)]
        self.assertEqual(self.post3(h, body, values[0]).status, 200)
        for v in values[1:]:
            self.assertEqual(self.post3(h, body, v).status, 401)
        self.assertEqual(self.post3(h, body + b" ", values[0]).status, 401)
        time.sleep(0.3)
        log = h.log_text()
        # The refusals are logged (at debug level everything is), without the value.
        self.assertIn("signature mismatch", log)
        for v in values:
            prot, _, sig = v.partition("..")
            self.assertNotIn(sig, log)
            self.assertNotIn(sig[:32], log)
            self.assertNotIn(v, log)


class KeySet(JwsCase):
    def test_rotation_reads_early_without_restart(self):
        h = self.start()
        ok0, _, nkeys = self.reads(h)
        self.assertEqual((ok0, nkeys), (1, 3))
        gets0 = self.keys.ngets()
        self.keys.serve("k2", "e1")   # k1 retired, k2 new
        body = v3_body("tier.increase", "acctrot")
        first = self.post3(h, body, sign(key("k2"), body))
        if first.status != 200:
            self.assertRefused(first, "unknown key")

        def retried():
            r = self.post3(h, body, sign(key("k2"), body))
            return r if r.status == 200 else None
        r = wait_for(retried, timeout=5, interval=0.2, what="200 for a notification signed by k2")
        self.assertAccepted(r, body)
        ok1, _, nkeys = self.reads(h)
        self.assertEqual(ok1, ok0 + 1, "one early read")
        self.assertEqual(nkeys, 2)
        self.assertEqual(self.keys.ngets(), gets0 + 1)
        # k1 is gone now.
        body1 = v3_body("tier.decrease", "acctold")
        self.assertRefused(self.post3(h, body1, sign(key("k1"), body1)), "unknown key")
        # Another unknown kid within a minute: refused, and no read again.
        time.sleep(1.5)
        self.assertEqual(self.keys.ngets(), gets0 + 1, "early reads at most once a minute")
        self.assertEqual(self.reads(h)[0], ok1)

    def test_key_server_down_at_first_start(self):
        self.keys.stop()
        self.keys = KeyServer(jwks_doc("k1"), port=free_port(), start=False)
        self.addCleanup(self.keys.stop)
        t0 = time.monotonic()
        h = self.start(wait_keys=False)
        body = v3_body()
        for value in (sign(key("k1"), body), sign(key("k1"), body, kid="k2"), "garbage"):
            r = self.post3(h, body, value)
            self.assertEqual(r.status, 503, r)
            self.assertRegex(r.headers.get("retry-after", ""), r"^\d+$", r.headers)
            self.assertIn("key set", r.json()["error"])
        self.assertNothingStored()
        f = self.failures(h)
        self.assertEqual(f.get("no_key_set", 0), 3, f)
        wait_for(lambda: self.reads(h)[1] >= 1, what="a failed read in /metrics")
        self.assertRegex(h.run_log(), r"key set .*not read")
        time.sleep(max(0, 1.5 - (time.monotonic() - t0)))
        self.keys.start()
        t1 = time.monotonic()

        def accepted():
            r = self.post3(h, body, sign(key("k1"), body))
            self.assertIn(r.status, (200, 503), r)
            return r if r.status == 200 else None
        r = wait_for(accepted, timeout=15, interval=0.2, what="200 once the key server is up")
        self.assertLess(time.monotonic() - t1, 10)
        self.assertAccepted(r, body)
        self.assertEqual(self.reads(h)[2], 1)
        self.assertTrue(os.path.exists(os.path.join(self.dir, KEEP)))

    def test_failing_first_reads_back_off(self):
        """The key server answers 500 three times: reads 1 s, 2 s, 4 s apart."""
        self.keys.status = 500
        gets = self.keys.gets

        def serve_good_after_three():
            wait_for(lambda: len(gets) >= 3, timeout=10, what="three reads")
            self.keys.serve("k1")
        t = threading.Thread(target=serve_good_after_three, daemon=True)
        t.start()
        h = self.start(wait_keys=False)
        body = v3_body()
        r = self.post3(h, body, sign(key("k1"), body))
        self.assertEqual(r.status, 503, r)
        self.assertIn("retry-after", r.headers)
        wait_for(lambda: self.reads(h)[0] >= 1, timeout=14, what="a good read")
        t.join(1)
        self.assertEqual(len(gets), 4, gets)
        gaps = [b - a for a, b in zip(gets, gets[1:])]
        for gap, want in zip(gaps, (1, 2, 4)):
            self.assertTrue(want * 0.75 <= gap <= want * 1.5 + 0.3, f"gaps {gaps}")
        self.assertEqual(self.reads(h)[:2], (1, 3))
        self.assertAccepted(self.post3(h, body, sign(key("k1"), body)), body)
        self.assertRegex(h.run_log(), r"key set .*not read.*500")

    def test_restart_with_key_server_down_uses_kept_set(self):
        h = self.start()
        body = v3_body("tier.increase", "acct1")
        self.assertAccepted(self.post3(h, body, sign(key("e1"), body, alg="ES256")), body)
        kept = os.path.join(self.dir, KEEP)
        self.assertTrue(os.path.exists(kept), os.listdir(self.dir))
        self.assertEqual(read_json(kept), json.loads(jwks_doc("k1", "e1", "k3")))
        self.assertFalse([f for f in os.listdir(self.dir) if f.endswith(".tmp")])
        self.assertEqual(h.stop(), 0)
        self.keys.stop()
        h.start()
        body2 = v3_body("tier.decrease", "acct2")
        r = self.post3(h, body2, sign(key("k1"), body2))
        self.assertAccepted(r, body2, 2)
        # The key server is still down: the run tried it and said so.
        wait_for(lambda: re.search(r"key set .*not read", h.run_log()), what="a warning")
        ok, _, nkeys = self.reads(h)
        self.assertEqual(ok, 0)
        self.assertEqual(nkeys, 3, "hookd_jwks_keys: the kept set in use has 3 keys")

    def test_bad_set_on_refresh_keeps_the_last_good_one(self):
        verify = f'{{ scheme: ctct-jws, jwks_url: "{self.keys.url()}", refresh: 1s }}'
        h = self.start(verify)
        body = v3_body()
        self.assertAccepted(self.post3(h, body, sign(key("k1"), body)), body)
        with self.keys.lock:
            self.keys.doc = b'{"keys": [ {"kty": "RSA", "kid": "k1", "n": "!!", '
        wait_for(lambda: self.reads(h)[1] >= 1, timeout=5, what="a failed read")
        time.sleep(3 - 1)
        ok, err, nkeys = self.reads(h)
        self.assertGreater(err, 0)
        self.assertEqual(nkeys, 3)
        body2 = v3_body("tier.decrease")
        self.assertAccepted(self.post3(h, body2, sign(key("k3"), body2)), body2, 2)
        # A warning naming the key set and why (it is not JSON).
        self.assertRegex(h.run_log(), r"(?im)^.*\bwarn.*key set.*not read.*json")
        # The kept copy is still the good one.
        self.assertEqual(read_json(os.path.join(self.dir, KEEP)),
                         json.loads(jwks_doc("k1", "e1", "k3")))
        # A set with a weak key is refused as a whole, too.
        weak = jwk.JWK.generate(kty="RSA", size=1024, kid="weak")
        with self.keys.lock:
            self.keys.doc = json.dumps({"keys": [json.loads(weak.export_public()),
                                                 json.loads(key("k2").export_public())]}).encode()
        err0 = self.reads(h)[1]
        wait_for(lambda: self.reads(h)[1] > err0, timeout=5, what="another failed read")
        body3 = v3_body("account.cancel")
        self.assertRefused(self.post3(h, body3, sign(key("k2"), body3)), "unknown key")
        self.assertEqual(self.reads(h)[2], 3)

    def test_https_key_server_with_ca_file(self):
        cert, pkey = make_cert(self.dir)
        self.keys.stop()
        self.keys = KeyServer(jwks_doc("k1"), cert=(cert, pkey))
        self.addCleanup(self.keys.stop)
        url = self.keys.url(host="localhost", scheme="https")
        h = self.start(f'{{ scheme: ctct-jws, jwks_url: "{url}", ca_file: {cert} }}')
        body = v3_body()
        self.assertAccepted(self.post3(h, body, sign(key("k1"), body)), body)


class Migration(JwsCase):
    def test_v2_and_v3_on_one_path(self):
        verify = (f'[{{ scheme: ctct-jws, jwks_url: "{self.keys.url()}" }}, '
                  f'{{ scheme: ctct-hmac-sha256, secret: "{SECRET}" }}]')
        h = self.start(verify)
        n = 0
        for what, v3, v2 in (("v2 only", None, True), ("v3 only", True, None),
                             ("both valid", True, True)):
            with self.subTest(what):
                n += 1
                body = v3_body("tier.increase", f"acct{n}")
                r = self.post3(h, body, sign(key("k1"), body) if v3 else None,
                               v2=ctct_sig(body) if v2 else None)
                self.assertAccepted(r, body, n)
        body = v3_body("tier.decrease", "acctbad")
        bad_v2 = ctct_sig(body, "wrong-secret")
        bad_v3 = sign(key("k1-other"), body)
        for what, v3, v2, check in (
                ("good v3, bad v2", sign(key("k1"), body), bad_v2, "mismatch"),
                ("bad v3, good v2", bad_v3, ctct_sig(body), "signature mismatch"),
                ("v2 only, bad", None, bad_v2, "mismatch"),
                ("v3 only, bad", bad_v3, None, "signature mismatch"),
                ("neither", None, None, ("missing", "no signature header"))):
            with self.subTest(what):
                self.assertRefused(self.post3(h, body, v3, v2=v2), check)
        time.sleep(0.2)
        self.assertEqual(len(read_lines(self.events)), 3)


class Check(JwsCase):
    def write(self, text, name="c.yaml"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def check(self, text):
        r = self.run_cli("check", "-c", self.write(text))
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def test_jwks_file_source(self):
        path = os.path.join(self.dir, "jwks.json")
        with open(path, "wb") as f:
            f.write(jwks_doc("k1", "e1"))
        self.keys.stop()   # nothing is fetched
        h = self.hookd(self.config(f"{{ scheme: ctct-jws, jwks_file: {path} }}"))
        # Read at start: no 503 window.
        body = v3_body()
        self.assertAccepted(self.post3(h, body, sign(key("e1"), body, alg="ES256")), body)
        body2 = v3_body("tier.decrease")
        self.assertRefused(self.post3(h, body2, sign(key("k3"), body2)), "unknown key")
        self.assertEqual(self.reads(h)[2], 2)
        rc, out, err = self.check(self.config(f"{{ scheme: ctct-jws, jwks_file: {path} }}"))
        self.assertEqual(rc, 0, err)
        self.assertIn(f"ctct-jws (key set {path})", out)
        self.assertIn(f"key set: 2 keys read from {path}", out)

    def test_check_reports_the_key_set(self):
        url = self.keys.url()
        rc, out, err = self.check(self.config())
        self.assertEqual(rc, 0, err)
        self.assertIn(f"ctct-jws (key set {url})", out)
        self.assertRegex(out, rf"(?m)^\s*key set: 3 keys read from {re.escape(url)}$")
        self.assertNotIn("warning", out)
        # The key server down: still exit 0, with a warning saying why.
        self.keys.stop()
        rc, out, err = self.check(self.config())
        self.assertEqual(rc, 0, err + out)
        self.assertRegex(out, rf"warning: key set not read from {re.escape(url)}: \S")
        self.assertNotIn("keys read from", out)
        # Answering 500: the same, and the status is the why.
        self.keys.start()
        self.keys.status = 500
        rc, out, err = self.check(self.config())
        self.assertEqual(rc, 0, err + out)
        self.assertRegex(out, rf"warning: key set not read from {re.escape(url)}: .*500")

    def test_bad_key_set_locations_are_config_errors(self):
        missing = os.path.join(self.dir, "nope.json")
        garbage = self.write('{"keys": [', "garbage.json")
        empty = self.write('{"keys": []}', "empty.json")
        cases = [
            ("ftp url", '{ scheme: ctct-jws, jwks_url: "ftp://x" }', r"jwks_url"),
            ("plain http elsewhere", '{ scheme: ctct-jws, jwks_url: "http://example.com/jwks.json" }',
             r"jwks_url: .*https"),
            ("not a url", '{ scheme: ctct-jws, jwks_url: "jwks.json" }', r"jwks_url"),
            ("url and file", f'{{ scheme: ctct-jws, jwks_url: "{self.keys.url()}", '
                             f'jwks_file: {garbage} }}', r"jwks_(url|file)"),
            ("missing file", f"{{ scheme: ctct-jws, jwks_file: {missing} }}",
             re.escape(missing)),
            ("malformed file", f"{{ scheme: ctct-jws, jwks_file: {garbage} }}", r"jwks_file"),
            ("file without keys", f"{{ scheme: ctct-jws, jwks_file: {empty} }}", r"jwks_file"),
            ("a secret", f'{{ scheme: ctct-jws, jwks_url: "{self.keys.url()}", secret: x }}',
             r"secret"),
        ]
        for what, verify, pattern in cases:
            with self.subTest(what):
                rc, out, err = self.check(self.config(verify))
                self.assertEqual(rc, 2, out + err)
                lines = [l for l in err.splitlines() if not re.match(r"^\d{4}-\d\d-\d\dT", l)]
                self.assertEqual(len(lines), 1, err)
                self.assertRegex(lines[0], r"c\.yaml:\d+:\d+: sources\[0\]\.verify")
                self.assertRegex(lines[0], pattern)
        # hookd run refuses the same file, before listening.
        self.write(self.config(cases[0][1]), "hookd.yaml")
        r = subprocess.run([HOOKD, "run", "-c", "hookd.yaml"], cwd=self.dir, capture_output=True,
                           timeout=15)
        self.assertEqual(r.returncode, 2, r)
        self.assertRegex(r.stderr.decode(), r"hookd\.yaml:\d+:\d+: .*jwks_url")


class SignAndSend(JwsCase):
    def pem(self, name):
        path = os.path.join(self.dir, f"{name}.pem")
        with open(path, "wb") as f:
            f.write(key(name).export_to_pem(private_key=True, password=None))
        return path

    def hookd_sign(self, keyname, body, *extra):
        with open(os.path.join(self.dir, "body.json"), "wb") as f:
            f.write(body)
        r = self.run_cli("sign", "--scheme", "ctct-jws", "--key", self.pem(keyname),
                         "--file", "body.json", *extra)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = r.stdout.decode()
        m = re.fullmatch(r"X-CTCT-WEBHOOK-SIG: ([A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+)\n", out)
        self.assertTrue(m, out)
        return m.group(1)

    def test_sign_output_is_accepted_and_verifies_independently(self):
        h = self.start()
        n = 0
        for keyname, alg, extra in (("k1", "RS256", ["--kid", "k1"]), ("e1", "ES256", ["--kid", "e1"]),
                                    ("k3", "RS256", [])):
            with self.subTest(keyname):
                n += 1
                body = v3_body("tier.increase", f"signed{n}") + b"\n"   # exact bytes, newline too
                ts = now_s()
                value = self.hookd_sign(keyname, body, "--timestamp", str(ts), *extra)
                pub = jwk.JWK(**json.loads(key(keyname).export_public()))
                hdr = jwcrypto_verify(value, body, pub)
                self.assertEqual(hdr["alg"], alg)
                self.assertIs(hdr["b64"], False)
                self.assertEqual(hdr["crit"], ["b64"])
                self.assertEqual(hdr["ts"], ts)
                self.assertEqual(hdr.get("kid"), extra[1] if extra else None)
                self.assertFalse({"jwk", "jku", "x5u", "x5c"} & set(hdr), hdr)
                # Not the key of another kid, nor another body.
                with self.assertRaises(Exception):
                    jwcrypto_verify(value, body + b" ", pub)
                self.assertAccepted(self.post3(h, body, value), body, n)
        # --timestamp is honoured: an old one is refused by hookd.
        body = v3_body()
        old = now_s() - 3600
        value = self.hookd_sign("k1", body, "--kid", "k1", "--timestamp", str(old))
        self.assertEqual(jwcrypto_verify(value, body, key("k1"))["ts"], old)
        self.assertRefused(self.post3(h, body, value), "timestamp outside tolerance")
        # Without --timestamp: now.
        value = self.hookd_sign("k1", body, "--kid", "k1")
        self.assertLessEqual(abs(jwcrypto_verify(value, body, key("k1"))["ts"] - now_s()), 5)

    def test_send_v3_sample(self):
        sink = Sink()
        self.addCleanup(sink.stop)
        plugins = (f"- name: audit\n  use: file\n  config: {{ path: {self.events} }}\n" +
                   instance("fwd", {"url": sink.url("/acct/{{ctct.account_id}}")}))
        h = self.start(plugins=plugins, routes='  - { match: "*", to: [audit, fwd] }\n')
        url = f"http://127.0.0.1:{h.port}{PATH}"
        r = self.run_cli("send", url, "--scheme", "ctct-jws", "--key", self.pem("k1"), "--kid", "k1",
                         "--user", USER, "--password", PASSWORD)
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())
        [ev] = wait_for(lambda: read_lines(self.events), what="the sample in events.jsonl")
        self.assertEqual(ev["type"], "tier.increase")
        self.assertEqual(ev["source"], SRC)
        m = re.fullmatch(r"https://api\.cc\.email/v3/partner/accounts/([A-Za-z0-9_-]+)/plan",
                         ev["body"]["url"])
        self.assertTrue(m, ev["body"])
        self.assertEqual(ev["body"]["api_key"], "sample-api-key")
        self.assertEqual(ev["body"]["event_type"], "tier.increase")
        self.assertIn(ev["id"], r.stdout.decode())
        [req] = sink.got(1)
        self.assertEqual(req["path"], f"/acct/{m.group(1)}")
        # --topic and --account shape the v3 sample too; ES256 through send.
        r = self.run_cli("send", url, "--scheme", "ctct-jws", "--key", self.pem("e1"), "--kid", "e1",
                         "--user", USER, "--password", PASSWORD, "--topic", "account.cancel",
                         "--account", "acct4242")
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())
        lines = wait_for(lambda: len(read_lines(self.events)) == 2 and read_lines(self.events))
        self.assertEqual(lines[1]["type"], "account.cancel")
        self.assertEqual(lines[1]["body"]["url"],
                         "https://api.cc.email/v3/partner/accounts/acct4242/plan")
        self.assertEqual(sink.got(2)[1]["path"], "/acct/acct4242")
        # A key the set does not hold: hookd answers 401, send exits non-zero.
        r = self.run_cli("send", url, "--scheme", "ctct-jws", "--key", self.pem("k1-other"),
                         "--kid", "k1", "--user", USER, "--password", PASSWORD)
        self.assertNotEqual(r.returncode, 0, r.stdout.decode())
        self.assertIn("401", r.stdout.decode() + r.stderr.decode())
        self.assertIn("signature mismatch", r.stdout.decode() + r.stderr.decode())
        time.sleep(0.2)
        self.assertEqual(len(read_lines(self.events)), 2)


if __name__ == "__main__":
    unittest.main()
