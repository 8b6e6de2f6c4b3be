"""The command line: check, configuration errors with file:line:col and exit
code 2, plugin refusals, sign against the shared vectors, the command table
(each command's own options, --help from the table)."""
import base64
import hashlib
import hmac
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

    def test_keys_from_the_plugins_tables(self):
        example = os.path.join(SOURCE_DIR, "examples/hookd.yaml")
        text = open(example).read().replace("./build/plugins", PLUGIN_DIR)
        path = os.path.join(self.dir, "example.yaml")
        open(path, "w").write(text)
        plain = self.run_cli("check", "-c", path).stdout.decode()
        self.assertNotIn("configuration keys", plain)
        r = self.run_cli("check", "--keys", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = r.stdout.decode()
        # Under each instance, its plugin's table: key, type, default, what.
        self.assertRegex(out, r"  audit  file .*\n    file \S+: 2 configuration keys\n")
        self.assertRegex(out, r"\n      path +string +\(required\) +the file each event")
        self.assertRegex(out, r"\n      inherit_env +bool +false ")
        self.assertRegex(out, r"\n      command +list +\(required\) ")

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


class Table(HookdCase):
    """The command table: each command takes only its own options, and the
    help of hookd and of each command is printed from it."""

    def usage_error(self, *args):
        r = self.run_cli(*args)
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 2, (args, r.stdout, err))
        self.assertEqual(r.stdout, b"", args)
        self.assertEqual(err.count("\n"), 1, err)
        return err

    def test_an_option_of_another_command_is_refused(self):
        for cmd, args, word in [("check", ("check", "--topic", "x"), "--topic"),
                                ("run", ("run", "--scheme", "github"), "--scheme"),
                                ("sign", ("sign", "--scheme", "github", "--json"), "--json"),
                                ("ctct", ("--limit", "3", "ctct", "topics"), "--limit"),
                                ("events", ("events", "--dead"), "--dead"),
                                ("replay", ("replay", "--dead", "--limit=5"), "--limit"),
                                ("version", ("version", "-V"), "-V")]:
            with self.subTest(args=args):
                err = self.usage_error(*args)
                self.assertTrue(err.startswith(f"hookd {cmd}: {word} is not an option of {cmd}"), err)

    def test_unknown_option_and_missing_value(self):
        err = self.usage_error("check", "--frobnicate")
        self.assertRegex(err, r"^hookd check: unknown option --frobnicate")
        err = self.usage_error("--bogus")
        self.assertRegex(err, r"^hookd run: unknown option --bogus")
        err = self.usage_error("sign", "--scheme")
        self.assertRegex(err, r"^hookd sign: --scheme needs a value")
        err = self.usage_error("events", "-c")
        self.assertRegex(err, r"^hookd events: -c needs a value")
        err = self.usage_error("check", "extra")
        self.assertIn('unexpected argument "extra"', err)
        err = self.usage_error("frobnicate")
        self.assertIn('unknown command "frobnicate"', err)

    def test_command_help(self):
        for cmd, own, other in [("sign", "--algorithm", "--topic"), ("send", "--topic", "--dead"),
                                ("events", "--since", "--plugin"), ("replay", "--dead", "--since"),
                                ("run", "--version", "--json"), ("check", "--config", "--json")]:
            with self.subTest(cmd=cmd):
                r = self.run_cli(cmd, "--help")
                out = r.stdout.decode()
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn(f"  {cmd}", out)
                self.assertIn(own, out)
                self.assertIn("--config", out)
                self.assertNotIn(other, out)
        r = self.run_cli("--help")
        for cmd in ("run", "check", "sign", "send URL", "events show ID", "dead", "replay --dead",
                    "ctct subscribe TOPIC URL", "version"):
            self.assertIn("  " + cmd, r.stdout.decode())
        self.assertNotIn("--scheme", r.stdout.decode(), "hookd sign --help has them")

    def test_options_before_the_command_word(self):
        r = self.run_cli("--scheme", "github", "--secret", "k", "sign", input=b"x")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(b"X-Hub-Signature-256: sha256="), r.stdout)
        self.assertEqual(self.run_cli("-V").stdout.decode().split()[0], "hookd")
        self.assertIn("plugin ABI", self.run_cli("version").stdout.decode())

    def test_generic_hmac_options(self):
        def sign(*extra):
            r = self.run_cli("sign", "--scheme", "hmac", "--secret", "k", *extra, input=b"x")
            return r.returncode, r.stdout.decode(), r.stderr.decode()
        mac = hmac.new(b"k", b"x", hashlib.sha256).hexdigest()
        self.assertEqual(sign(), (0, f"X-Hookd-Signature: {mac}\n", ""))
        mac512 = base64.b64encode(hmac.new(b"k", b"x", hashlib.sha512).digest()).decode()
        self.assertEqual(sign("--header", "X-Sig", "--algorithm", "sha512", "--encoding", "base64",
                              "--prefix", "v1="), (0, f"X-Sig: v1={mac512}\n", ""))
        for bad in (("--algorithm", "md5"), ("--encoding", "b32"), ("--header", "no good")):
            with self.subTest(bad=bad):
                code, out, err = sign(*bad)
                self.assertEqual((code, out), (2, ""), err)
                self.assertRegex(err, "^hookd sign: .*" + bad[1])


if __name__ == "__main__":
    unittest.main()
