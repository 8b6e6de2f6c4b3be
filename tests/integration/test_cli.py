"""The command line: check, configuration errors with file:line:col and exit
code 2, plugin refusals, sign against the shared vectors, --help."""
import json
import os
import re
import unittest

from harness import FIXTURE_DIR, PLUGIN_DIR, SOURCE_DIR, VECTORS, HookdCase, base_config


class Check(HookdCase):
    def test_example_config_passes(self):
        example = os.path.join(SOURCE_DIR, "examples/hookd.yaml")
        text = open(example).read().replace("./build/plugins", PLUGIN_DIR)
        path = os.path.join(self.dir, "example.yaml")
        open(path, "w").write(text)
        r = self.run_cli("check", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = r.stdout.decode()
        self.assertIn("constantcontact", out)
        self.assertIn("/webhooks/ctct", out)
        self.assertIn("ctct-hmac-sha256", out)
        self.assertIn("on-account-change", out)
        self.assertRegex(out, r"account\.cancel, account\.disable -> on-account-change audit")

    def test_options_after_the_command(self):
        open(os.path.join(self.dir, "c.yaml"), "w").write(base_config(self.dir))
        r = self.run_cli("check", "-c", "c.yaml")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cli("-c", "c.yaml", "check")
        self.assertEqual(r.returncode, 0, r.stderr)

    def expect_error(self, text, pattern, env=None):
        path = os.path.join(self.dir, "bad.yaml")
        open(path, "w").write(text)
        r = self.run_cli("check", "-c", path, env=env)
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 2, err)
        # One line says what is wrong (log records from plugins may precede it).
        lines = [l for l in err.splitlines() if not re.match(r"^\d{4}-\d\d-\d\dT", l)]
        self.assertEqual(len(lines), 1, err)
        self.assertRegex(lines[0], pattern)
        return err

    def test_unknown_key(self):
        text = base_config(self.dir).replace("server:\n", "server:\n  lisen: x\n")
        self.expect_error(text, r"bad\.yaml:2:3: server\.lisen: unknown key")

    def test_unset_environment_variable(self):
        text = base_config(self.dir).replace('"api-secret-key"', '"${HOOKD_TEST_UNSET_VAR}"')
        err = self.expect_error(text, r"bad\.yaml:\d+:\d+: sources\[0\]\.verify\.secret: .*HOOKD_TEST_UNSET_VAR")
        self.assertNotIn("api-secret-key", err)

    def test_environment_default(self):
        text = base_config(self.dir).replace('"api-secret-key"', '"${HOOKD_TEST_UNSET_VAR:-fallback}"')
        path = os.path.join(self.dir, "ok.yaml")
        open(path, "w").write(text)
        self.assertEqual(self.run_cli("check", "-c", path).returncode, 0)

    def test_route_to_unknown_instance(self):
        text = base_config(self.dir, routes='  - { match: "*", to: [audit, slak] }\n')
        self.expect_error(text, r'bad\.yaml:\d+:\d+: routes\[0\]\.to(\[1\])?: unknown plugin instance "slak"')

    def test_source_without_verify(self):
        sources = "- name: s\n  path: /s\n  event_type: /type\n"
        self.expect_error(base_config(self.dir, sources=sources), r"bad\.yaml:\d+:\d+: sources\[0\].*verify")

    def test_plugin_refused_by_loader(self):
        plugins = f"- name: broken\n  use: {FIXTURE_DIR}/bad_major.so\n"
        self.expect_error(base_config(self.dir, plugins=plugins, routes='  - { match: "*", to: [broken] }\n'),
                          r"bad\.yaml:\d+:\d+: plugins\[0\]\.use: .*bad_major\.so.*ABI")

    def test_plugin_init_failure(self):
        plugins = f"- name: nope\n  use: {FIXTURE_DIR}/init_fails.so\n"
        self.expect_error(base_config(self.dir, plugins=plugins, routes='  - { match: "*", to: [nope] }\n'),
                          r"bad\.yaml:\d+:\d+: plugins\[0\]\.config: nope: init_fails: refused on purpose")

    def test_plugin_unknown_config_key(self):
        plugins = "- name: audit\n  use: file\n  config: { pth: x.jsonl }\n"
        self.expect_error(base_config(self.dir, plugins=plugins), r'bad\.yaml:\d+:\d+: plugins\[0\]\.config: audit: .*"pth"')

    def test_yaml_syntax_error(self):
        self.expect_error("server:\n  listen: [\n", r"bad\.yaml:\d+:\d+: ")


class Sign(HookdCase):
    def test_vectors(self):
        vectors = json.load(open(os.path.join(VECTORS, "signatures.json")))["vectors"]
        for v in vectors:
            with self.subTest(scheme=v["scheme"], expected=v["expected"]):
                if "body_file" in v:
                    body = open(os.path.join(VECTORS, v["body_file"]), "rb").read()
                    body += v.get("body_suffix", "").encode()
                else:
                    body = v["body"].encode()
                args = ["sign", "--scheme", v["scheme"], "--secret", v["secret"]]
                ts = v.get("t") or v.get("webhook-timestamp")
                if ts:
                    args += ["--timestamp", ts]
                if "webhook-id" in v:
                    args += ["--id", v["webhook-id"]]
                r = self.run_cli(*args, input=body)
                self.assertEqual(r.returncode, 0, r.stderr)
                headers = dict(line.split(": ", 1) for line in r.stdout.decode().splitlines())
                name = {k.lower(): k for k in headers}[(v.get("header") or
                        {"ctct-hmac-sha256": "x-ctct-hmac-sha256"}[v["scheme"]]).lower()]
                self.assertEqual(headers[name], v["expected"])

    def test_sign_from_configured_source(self):
        path = os.path.join(self.dir, "c.yaml")
        open(path, "w").write(base_config(self.dir))
        r = self.run_cli("sign", "-c", path, "--source", "constantcontact", input=b"{}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"^x-ctct-hmac-sha256: [A-Za-z0-9+/]{43}=\n$")

    def test_help_and_usage(self):
        r = self.run_cli("--help")
        self.assertEqual(r.returncode, 0)
        for word in ("run", "check", "sign", "--config"):
            self.assertIn(word, r.stdout.decode())
        self.assertEqual(self.run_cli("frobnicate").returncode, 2)
        self.assertEqual(self.run_cli("--bogus").returncode, 2)


if __name__ == "__main__":
    unittest.main()
