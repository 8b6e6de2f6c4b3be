"""The generic hmac scheme signed three ways -- `hookd sign`, `hookd send` and
the forward plugin's re-signing (the core's sign callback) -- and each
verified by a running hookd whose hmac source keeps the default settings
(only the header named, which the scheme requires): all three signers build
their settings in one place, so they agree with each other and with it."""
import json
import os
import textwrap
import unittest

from harness import Hookd, HookdCase, base_config, ctct_body, read_lines, wait_for

KEY = "generic-hmac-secret"
HEADER = "X-Hookd-Signature"   # the signers' default header name


class HmacRoundTrip(HookdCase):
    def receiver(self):
        """A hookd with one generic hmac source at /in, default settings."""
        d = os.path.join(self.dir, "receiver")
        os.mkdir(d)
        sources = textwrap.dedent(f"""\
          - name: generic
            path: /in
            verify: {{ scheme: hmac, secret: "{KEY}", header: {HEADER} }}
            event_type: /event_type
        """)
        h = Hookd(d, base_config(d, sources=sources))
        self.procs.append(h)
        h.start()
        return h, os.path.join(d, "events.jsonl")

    def test_sign_send_and_forward_verify_with_the_default_settings(self):
        r, events = self.receiver()
        url = f"http://127.0.0.1:{r.port}/in"

        # hookd sign: the header lines it prints, posted as they are.
        body = ctct_body("tier.increase", "signed")
        s = self.run_cli("sign", "--scheme", "hmac", "--secret", KEY, input=body)
        self.assertEqual(s.returncode, 0, s.stderr)
        lines = s.stdout.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        name, value = lines[0].split(": ", 1)
        ans = r.post(body, path="/in", sig=False, auth=False, headers={name: value})
        self.assertEqual(ans.status, 200, f"hookd sign wrote {lines[0]!r}: {ans.body!r}")

        # hookd send.
        path = os.path.join(self.dir, "body.json")
        with open(path, "wb") as f:
            f.write(ctct_body("tier.increase", "sent"))
        s = self.run_cli("send", url, "--scheme", "hmac", "--secret", KEY, "--file", path)
        self.assertEqual(s.returncode, 0, s.stdout.decode() + s.stderr.decode())

        # The forward plugin re-signing through the core's sign callback.
        d = os.path.join(self.dir, "forwarder")
        os.mkdir(d)
        fwd = {"url": url, "body": "raw", "sign": {"scheme": "hmac", "secret": KEY}}
        plugins = ("- name: fwd\n  use: forward\n  retry: { attempts: 1, backoff: 100ms }\n"
                   f"  config: {json.dumps(fwd)}\n")
        f = Hookd(d, base_config(d, plugins=plugins, routes='  - { match: "*", to: [fwd] }\n'))
        self.procs.append(f)
        f.start()
        self.assertEqual(f.post(ctct_body("tier.increase", "forwarded")).status, 200)

        def accounts():
            got = read_lines(events)
            return len(got) == 3 and sorted(e["body"]["url"].split("/")[-2] for e in got)
        try:
            got = wait_for(accounts, 20, "three verified events at the receiver")
        except AssertionError as e:
            raise AssertionError(f"{e}; receiver log:\n{r.run_log()[-3000:]}") from None
        self.assertEqual(got, ["forwarded", "sent", "signed"])


if __name__ == "__main__":
    unittest.main()
