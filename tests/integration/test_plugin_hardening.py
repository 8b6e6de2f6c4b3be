"""Issue 15's plugin items, as a sender or an operator meets them: a
templated URL segment stays that segment (dots included), and event types
that are only dots are refused at the door."""
import json
import os
import shutil
import subprocess
import unittest

from harness import HOOKD, PLUGIN_DIR, HookdCase, base_config, ctct_body, wait_for
from test_forward import ForwardCase, instance


def body_with(event_type="tier.increase", **extra) -> bytes:
    d = json.loads(ctct_body(event_type))
    d.update(extra)
    return json.dumps(d, separators=(",", ":")).encode()


def other_host_cert(workdir):
    """A self-signed certificate for other.example (CN and SAN), not for the
    host a client connects to."""
    cert, key = os.path.join(workdir, "other.pem"), os.path.join(workdir, "other.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=other.example",
                    "-addext", "subjectAltName=DNS:other.example"],
                   check=True, capture_output=True)
    return cert, key


class UrlSegments(ForwardCase):
    def test_dot_segments_from_templates_stay_segments(self):
        sink = self.sink()
        fwd = instance("fwd", {"url": sink.url("/events/{{json./seg}}/deliver"), "body": "raw"})
        h = self.start(fwd, ["fwd"])
        for seg in ("..", ".", "a.b"):
            self.post(h, body_with(seg=seg))
        paths = sorted(r["path"] for r in sink.got(3))
        self.assertEqual(paths, ["/events/%2E%2E/deliver", "/events/%2E/deliver",
                                 "/events/a.b/deliver"])

    def test_the_path_is_sent_as_written(self):
        """curl does not normalise the path (CURLOPT_PATH_AS_IS): dot
        segments the operator wrote reach the sink as written."""
        sink = self.sink()
        h = self.start(instance("fwd", {"url": sink.url("/hooks/./v1/../{{type}}/x/.."),
                                        "body": "raw"}), ["fwd"])
        self.post(h, ctct_body())
        [req] = sink.got(1)
        self.assertEqual(req["path"], "/hooks/./v1/../tier.increase/x/..")

    def test_types_of_dots_are_refused(self):
        h = self.start(instance("fwd", {"url": "http://127.0.0.1:9/", "body": "raw"}), ["fwd"])
        for t in (".", "..", "..."):
            r = h.post(ctct_body(t))
            self.assertEqual(r.status, 400, r)
            self.assertIn("event type is only dots", r.json()["error"])


class ForwardPromises(ForwardCase):
    """Tests the suite lacked (issue 15, item 19)."""

    def test_certificate_for_another_host_is_refused(self):
        """A certificate the CA file trusts, but for another name: refused
        (host-name verification), unless insecure: true."""
        cert, key = other_host_cert(self.dir)
        sink = self.sink(cert=(cert, key))
        url = sink.url("/tls", host="localhost", scheme="https")
        plugins = (instance("strict", {"url": url, "ca_file": cert},
                            retry="{ attempts: 1, backoff: 100ms }") +
                   instance("lax", {"url": url, "insecure": True}))
        h = self.start(plugins, ["strict", "lax"])
        eid = self.post(h, ctct_body())
        self.wait_state(eid, "lax", "delivered")
        d = self.wait_state(eid, "strict", "dead")
        self.assertRegex(d["reason"], "(?i)certificate|host|name")
        self.assertEqual(len(sink.requests), 1, "only the insecure instance delivers")

    def test_send_checks_the_host_name_too(self):
        """hookd send shares its libcurl set-up with enrichment and the key
        set fetch (core/curl_opts.c): the same refusal there."""
        cert, key = other_host_cert(self.dir)
        sink = self.sink(cert=(cert, key))
        url = sink.url("/tls", host="127.0.0.1", scheme="https")
        args = ("send", url, "--scheme", "hmac", "--secret", "s")
        r = self.run_cli(*args, "--ca-file", cert)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertRegex(r.stderr.decode(), "(?i)certificate|host|name")
        self.assertEqual(sink.requests, [])
        r = self.run_cli(*args, "--insecure")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(len(sink.got(1)), 1)

    def test_408_is_retried(self):
        sink = self.sink([(408, {}, b"slow"), (200, {}, b"ok")])
        h = self.start(instance("fwd", {"url": sink.url("/in")}), ["fwd"])
        eid = self.post(h, ctct_body())
        d = self.wait_state(eid, "fwd", "delivered")
        self.assertEqual(d["attempts"], 2, d)


class LoaderTrust(HookdCase):
    """A plugin is code hookd runs as itself: it must come from a file only
    root or hookd's own user could have written, in a directory nobody else
    can write to."""

    def check_with(self, so_path):
        plugins = f"- name: audit\n  use: {so_path}\n  config: {{ path: {self.events} }}\n"
        cfg = os.path.join(self.dir, "hookd.yaml")
        with open(cfg, "w") as f:
            f.write(base_config(self.dir, plugins=plugins))
        return subprocess.run([HOOKD, "check", "-c", cfg], capture_output=True, text=True,
                              timeout=30)

    def plugin_in(self, mode, owner=None):
        d = os.path.join(self.dir, f"plugins-{mode:o}-{owner}")
        os.mkdir(d)
        os.chmod(d, mode)
        so = os.path.join(d, "file.so")
        shutil.copy(os.path.join(PLUGIN_DIR, "file.so"), so)
        os.chmod(so, 0o755)
        if owner is not None:
            os.chown(so, owner, owner)
        return so

    def test_trusted_file_loads(self):
        r = self.check_with(self.plugin_in(0o755))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_file_owned_by_another_user_is_refused(self):
        r = self.check_with(self.plugin_in(0o755, owner=65534))
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("owned by uid 65534", r.stderr)

    def test_writable_directories_are_refused(self):
        for mode in (0o777, 0o1777, 0o775):
            r = self.check_with(self.plugin_in(mode))
            self.assertEqual(r.returncode, 2, r.stdout)
            self.assertIn("group- or world-writable plugin directory", r.stderr)


class ExecEnvironment(HookdCase):
    def run_env(self, extra_config):
        out = os.path.join(self.dir, "env.txt")
        cfg = {"command": [f"env > {out}"], "shell": True, "env": {"FOO": "bar"}}
        cfg.update(extra_config)
        plugins = f"- name: run\n  use: exec\n  config: {json.dumps(cfg)}\n"
        h = self.hookd(base_config(self.dir, plugins=plugins,
                                   routes='  - { match: "*", to: [run] }\n'),
                       env={"CTCT_CLIENT_SECRET": "top-secret", "LANG": "C.UTF-8"})
        self.assertEqual(h.post(ctct_body()).status, 200)
        wait_for(lambda: os.path.exists(out) and os.path.getsize(out) > 0, what="the env dump")
        with open(out) as f:
            return dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)

    def test_children_get_a_minimal_environment(self):
        env = self.run_env({})
        self.assertNotIn("CTCT_CLIENT_SECRET", env)
        self.assertEqual(env.get("FOO"), "bar")
        self.assertEqual(env.get("LANG"), "C.UTF-8")
        self.assertIn("PATH", env)
        self.assertEqual(env.get("HOOKD_EVENT_TYPE"), "tier.increase")
        self.assertEqual(env.get("HOOKD_SOURCE"), "constantcontact")
        self.assertIn("HOOKD_EVENT_ID", env)
        extra = set(env) - {"FOO", "LANG", "PATH", "HOOKD_EVENT_TYPE", "HOOKD_SOURCE",
                            "HOOKD_EVENT_ID", "PWD", "SHLVL", "_"}  # the last three: sh's own
        self.assertEqual(extra, set())

    def test_inherit_env_passes_everything(self):
        env = self.run_env({"inherit_env": True})
        self.assertEqual(env.get("CTCT_CLIENT_SECRET"), "top-secret")
        self.assertEqual(env.get("FOO"), "bar")


if __name__ == "__main__":
    unittest.main()
