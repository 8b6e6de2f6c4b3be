"""The email plugin against a real SMTP server (aiosmtpd on loopback): the
message as a mail client parses it, STARTTLS with verification, header
injection, retries while the server is down or answers 4xx, a 5xx dead-letters
at once, and configuration errors at start-up."""
import email
import email.policy
import logging
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
except ImportError:  # a non-Debian python3 (pyenv) next to Debian's python3-aiosmtpd
    sys.path.append("/usr/lib/python3/dist-packages")
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

from harness import HOOKD, base_config, make_cert
from test_spool import SPOOL, SpoolCase, event_body, instance, route

# aiosmtpd logs every failed handshake with a traceback; the tests check the outcome.
logging.getLogger("mail.log").setLevel(logging.CRITICAL)

FAST_RETRY = "{ attempts: 30, backoff: 200ms, max_backoff: 300ms }"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """Stores every message; rejects some recipients (5xx) and may answer the
    first `tempfail` DATA commands with a 4xx."""

    def __init__(self, reject=(), tempfail=0):
        self.reject, self.tempfail = set(reject), tempfail
        self.messages, self.lock = [], threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.tempfail > 0:
                self.tempfail -= 1
                return "451 4.3.0 try again later"
            self.messages.append({"from": envelope.mail_from, "rcpt": list(envelope.rcpt_tos),
                                  "data": envelope.content, "tls": session.ssl is not None,
                                  "authenticated": session.authenticated})
        return "250 2.0.0 queued"

    def received(self):
        with self.lock:
            return list(self.messages)


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.default)


def header_block(data):
    return data.split(b"\r\n\r\n", 1)[0].decode("ascii")


def normalised(text):
    return text.replace("\r\n", "\n")


class EmailCase(SpoolCase):
    def setUp(self):
        super().setUp()
        self.smtp_port = free_port()
        self.smtp = None
        self.handler = Recorder()

    def tearDown(self):
        if self.smtp is not None:
            self.smtp.stop()
        super().tearDown()

    def start_smtp(self, **kw):
        self.smtp = Controller(self.handler, hostname="127.0.0.1", port=self.smtp_port, **kw)
        self.smtp.start()

    def mail_config(self, retry=FAST_RETRY, **cfg):
        base = {"url": f"smtp://127.0.0.1:{self.smtp_port}", "starttls": "off",
                "from": "hookd <hookd@example.com>", "to": ["ops@example.com"]}
        base.update(cfg)
        base = {k: v for k, v in base.items() if v is not None}
        plugins = instance("mail", "email", base, retry=retry, timeout="5s")
        return base_config(self.dir, plugins=plugins, routes=route("*", "mail"), top=SPOOL)

    def one_message(self, eid):
        self.wait_state(eid, "mail", "delivered")
        msgs = self.poll(self.handler.received, 10, "a message at the SMTP server")
        self.assertEqual(len(msgs), 1, msgs)
        return msgs[0], parse(msgs[0]["data"])


class Message(EmailCase):
    def test_plain_text_headers_body_and_envelope(self):
        self.start_smtp()
        h = self.hookd(self.mail_config(
            to=["ops@example.com", "Oncall Team <oncall@example.com>"],
            cc=["audit@example.com"],
            subject="{{type}} for account {{ctct.account_id}}",
            body="Event {{type}}\nAccount: {{ctct.account_id}}\n"))
        before = time.time()
        eid = self.post_ok(h, event_body("account.cancel", "acct42"))
        m, msg = self.one_message(eid)

        self.assertEqual(m["from"], "hookd@example.com")
        self.assertEqual(sorted(m["rcpt"]),
                         ["audit@example.com", "oncall@example.com", "ops@example.com"])
        self.assertEqual(msg.defects, [])
        self.assertEqual(str(msg["From"]), "hookd <hookd@example.com>")
        self.assertEqual([a.addr_spec for a in msg["To"].addresses],
                         ["ops@example.com", "oncall@example.com"])
        self.assertEqual(msg["To"].addresses[1].display_name, "Oncall Team")
        self.assertEqual([a.addr_spec for a in msg["Cc"].addresses], ["audit@example.com"])
        self.assertEqual(str(msg["Subject"]), "account.cancel for account acct42")
        self.assertLess(abs(msg["Date"].datetime.timestamp() - before), 30, msg["Date"])
        self.assertIsNotNone(msg["Date"].datetime.tzinfo)
        mid = str(msg["Message-ID"])
        self.assertRegex(mid, r"^<[^<>@\s]+@example\.com>$")
        self.assertIn(eid, mid)
        self.assertEqual(str(msg["MIME-Version"]), "1.0")
        self.assertEqual(msg.get_content_type(), "text/plain")
        self.assertEqual(msg.get_content_charset(), "utf-8")
        self.assertFalse(msg.is_multipart())
        self.assertEqual(normalised(msg.get_content()),
                         "Event account.cancel\nAccount: acct42\n")
        for name in ("From", "To", "Cc", "Subject", "Date", "Message-ID"):
            self.assertEqual(len(msg.get_all(name)), 1, name)

    def test_html_alternative_and_utf8(self):
        self.start_smtp()
        h = self.hookd(self.mail_config(
            subject="Überweisung {{type}} – {{json./name}}",
            body="Hallo {{json./name}}, Konto {{ctct.account_id}}",
            html="<p>Hallo <b>{{json./name}}</b>, Konto {{ctct.account_id}}</p>"))
        name = "Zoë 🎉 <i>&"
        eid = self.post_ok(h, event_body("tier.increase", "acct7", name=name))
        m, msg = self.one_message(eid)
        m["data"].decode("ascii")  # 7-bit clean on the wire: base64 and RFC 2047
        self.assertEqual(msg.defects, [])
        self.assertEqual(str(msg["Subject"]), f"Überweisung tier.increase – {name}")
        self.assertIn("=?utf-8?b?", header_block(m["data"]).lower())
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        parts = list(msg.iter_parts())
        self.assertEqual([p.get_content_type() for p in parts], ["text/plain", "text/html"])
        self.assertEqual(msg.get_body(("plain",)).get_content(), f"Hallo {name}, Konto acct7")
        # Values are HTML-escaped in the HTML part; the template's own markup is not.
        self.assertEqual(msg.get_body(("html",)).get_content(),
                         "<p>Hallo <b>Zoë 🎉 &lt;i&gt;&amp;</b>, Konto acct7</p>")
        for p in parts:
            self.assertEqual(p.get_content_charset(), "utf-8")

    def test_header_injection_adds_no_header(self):
        self.start_smtp()
        h = self.hookd(self.mail_config(subject="Alert for {{json./name}}",
                                        body="name={{json./name}}"))
        evil = "x\r\nX-Injected: yes\r\nBcc: evil@example.com\n\r\nbody"
        eid = self.post_ok(h, event_body("tier.increase", "acct9", name=evil))
        m, msg = self.one_message(eid)
        self.assertEqual(msg.defects, [])
        self.assertNotIn("X-Injected", msg)
        self.assertNotIn("Bcc", msg)
        self.assertEqual(m["rcpt"], ["ops@example.com"])
        subject_lines = [ln for ln in header_block(m["data"]).split("\r\n")
                         if ln.lower().startswith("subject:")]
        self.assertEqual(len(subject_lines), 1)
        self.assertNotIn("\n", str(msg["Subject"]))
        self.assertTrue(str(msg["Subject"]).startswith("Alert for x "), msg["Subject"])
        self.assertIn("X-Injected: yes", str(msg["Subject"]))  # kept, as text
        self.assertEqual(normalised(msg.get_content()), "name=" + normalised(evil))


class Tls(EmailCase):
    def tls_server(self):
        cert, key = make_cert(self.dir)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)

        def auth(server, session, envelope, mechanism, data):
            ok = data.login == b"mailer" and data.password == b"s3cret-pw"
            return AuthResult(success=ok)
        self.start_smtp(tls_context=ctx, require_starttls=True, auth_required=True,
                        authenticator=auth)
        return cert

    def test_starttls_required_with_ca_file_and_auth(self):
        cert = self.tls_server()
        h = self.hookd(self.mail_config(url=f"smtp://localhost:{self.smtp_port}",
                                        starttls="required", ca_file=cert,
                                        username="mailer", password="s3cret-pw"))
        eid = self.post_ok(h, event_body("tier.increase", "acct1"))
        m, msg = self.one_message(eid)
        self.assertTrue(m["tls"], "the session was not upgraded with STARTTLS")
        self.assertTrue(m["authenticated"])
        self.assertEqual(str(msg["Subject"]), "[hookd] tier.increase")
        self.assertIn(eid, msg.get_content())  # the default body names the event
        self.assertNotIn("s3cret-pw", h.log_text())

    def test_certificate_verified_by_default(self):
        self.tls_server()
        h = self.hookd(self.mail_config(url=f"smtp://localhost:{self.smtp_port}",
                                        starttls="required", username="mailer",
                                        password="s3cret-pw",
                                        retry="{ attempts: 1, backoff: 100ms }"))
        eid = self.post_ok(h, event_body("tier.increase", "acct2"))
        d = self.wait_state(eid, "mail", "dead")
        self.assertEqual([a["result"] for a in d["history"]], ["retry"], d)
        self.assertRegex(d["reason"], r"(?i)certificate", d)
        self.assertEqual(self.handler.received(), [])
        self.assertNotIn("s3cret-pw", h.log_text())


class Results(EmailCase):
    def test_server_down_retries_then_delivers(self):
        h = self.hookd(self.mail_config())
        eid = self.post_ok(h, event_body("tier.increase", "down1"))
        d = self.poll(lambda: (lambda d: d if d["attempts"] >= 2 else None)(
            self.delivery(eid, "mail")), 15, "two failed attempts")
        for a in d["history"][:2]:
            self.assertEqual(a["result"], "retry", d)
            self.assertRegex(a["reason"], r"(?i)connect", d)
        self.assertNotEqual(d["state"], "dead", d)
        self.start_smtp()  # the same port comes back
        d = self.wait_state(eid, "mail", "delivered", timeout=15)
        self.assertEqual(d["history"][-1]["result"], "ok", d)
        self.assertGreaterEqual(d["attempts"], 3, d)
        time.sleep(0.5)
        [m] = self.handler.received()
        self.assertIn(eid, str(parse(m["data"])["Message-ID"]))

    def test_4xx_retries(self):
        self.handler = Recorder(tempfail=1)
        self.start_smtp()
        h = self.hookd(self.mail_config())
        eid = self.post_ok(h, event_body("tier.increase", "temp1"))
        d = self.wait_state(eid, "mail", "delivered")
        self.assertEqual([a["result"] for a in d["history"]], ["retry", "ok"], d)
        self.assertIn("451", d["history"][0]["reason"])
        self.assertIn("try again later", d["history"][0]["reason"])
        self.assertEqual(len(self.handler.received()), 1)

    def test_5xx_fails_and_is_dead_lettered(self):
        self.handler = Recorder(reject={"nobody@example.com"})
        self.start_smtp()
        h = self.hookd(self.mail_config(to=["nobody@example.com"]))
        eid = self.post_ok(h, event_body("account.cancel", "fail1"))
        d = self.wait_state(eid, "mail", "dead")
        self.assertEqual(d["attempts"], 1, "a 5xx is not retried")
        self.assertEqual([a["result"] for a in d["history"]], ["fail"], d)
        self.assertIn("550", d["reason"])
        self.assertIn("no such user", d["reason"])
        self.assertEqual([(x["event"], x["plugin"]) for x in self.dead_list()], [(eid, "mail")])
        time.sleep(0.8)  # several back-offs: still one attempt
        self.assertEqual(self.delivery(eid, "mail")["attempts"], 1)
        self.assertEqual(self.handler.received(), [])
        self.assertTrue(h.alive())


class StartUp(EmailCase):
    def refused(self, **cfg):
        """hookd run on this config: must exit non-zero; returns its output."""
        with open(os.path.join(self.dir, "bad.yaml"), "w") as f:
            f.write(self.mail_config(**cfg))
        r = subprocess.run([HOOKD, "run", "-c", "bad.yaml"], cwd=self.dir, capture_output=True,
                           timeout=30)
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        self.assertNotEqual(r.returncode, 0, out)
        self.assertIn("mail", out)  # the instance is named
        self.assertNotIn("Sanitizer", out)  # a refused config frees what it built
        return out

    def test_bad_configurations_fail_start_up(self):
        out = self.refused(subject="{{type}} {{nope}}")
        self.assertIn('subject: unknown template name "nope"', out)
        self.assertIn('html: unknown template name "json"',
                      self.refused(html="<p>{{json}}</p>"))
        self.assertIn('unknown key "bcc"', self.refused(bcc=["x@example.com"]))
        self.assertIn("to[1]", self.refused(to=["a@example.com", "b@example.com\r\nBcc: c@x"]))
        self.assertIn("from", self.refused(**{"from": ""}))
        self.assertIn("starttls", self.refused(starttls="maybe"))
        self.assertIn("url", self.refused(url="http://127.0.0.1/"))
        self.assertIn('missing required key "to"', self.refused(to=None))

    def test_bare_number_timeout_is_refused(self):
        # One duration grammar: 5 is neither 5 ms nor 5 s, it is an error
        # that names the file, the place and the key.
        for bare in (5, "5"):
            self.assertRegex(self.refused(connect_timeout=bare),
                             r"bad\.yaml:\d+:\d+: plugins\[0\]\.config: mail: "
                             r"connect_timeout: ")


if __name__ == "__main__":
    unittest.main()
