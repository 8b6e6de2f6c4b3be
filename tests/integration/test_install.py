"""`cmake --install` of the build tree under test into a staging prefix: the
layout operators expect, a plugin built out of tree against the staged SDK
(examples/custom-plugin, pkg-config hookd-plugin), and the installed hookd
running it. The systemd unit passes `systemd-analyze verify` where it exists."""
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import unittest

import harness
from harness import HookdCase, ctct_body, wait_for, read_lines

BUILD_DIR = os.path.dirname(os.path.abspath(harness.HOOKD))
CMAKE = shutil.which("cmake")


def read(path):
    with open(path) as f:
        return f.read()


def configured_prefix():
    with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
        m = re.search(r"^CMAKE_INSTALL_PREFIX:PATH=(.*)$", f.read(), re.M)
    return m.group(1) if m else "/usr/local"


@unittest.skipUnless(CMAKE and os.path.exists(os.path.join(BUILD_DIR, "cmake_install.cmake")),
                     "needs cmake and the CMake build tree of HOOKD_BIN")
class InstallTest(HookdCase):
    # One staged install for the class: installing is the slow part.
    @classmethod
    def setUpClass(cls):
        cls._stage = tempfile.TemporaryDirectory(prefix="hookd-install-")
        cls.prefix = os.path.join(cls._stage.name, "prefix")
        r = subprocess.run([CMAKE, "--install", BUILD_DIR, "--prefix", cls.prefix],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError("cmake --install failed:\n" + r.stdout + r.stderr)
        cls.plugindir = os.path.join(cls.prefix, "lib/hookd/plugins")
        cls.pcdir = os.path.join(cls.prefix, "lib/pkgconfig")

    @classmethod
    def tearDownClass(cls):
        cls._stage.cleanup()

    def p(self, rel):
        return os.path.join(self.prefix, rel)

    def unit_path(self):
        for rel in ("lib/systemd/system/hookd.service", "usr/lib/systemd/system/hookd.service",
                    "share/systemd/system/hookd.service"):
            if os.path.exists(self.p(rel)):
                return self.p(rel)
        self.fail("hookd.service is not installed")

    def test_layout(self):
        for rel in ("bin/hookd", "lib/hookd/plugins/file.so", "include/hookd/plugin.h",
                    "include/hookd/version.h", "lib/pkgconfig/hookd-plugin.pc",
                    "share/man/man8/hookd.8"):
            self.assertTrue(os.path.isfile(self.p(rel)), rel)
        self.assertTrue(os.access(self.p("bin/hookd"), os.X_OK))
        # The loader refuses group/world-writable plugin files.
        for name in os.listdir(self.plugindir):
            mode = os.stat(os.path.join(self.plugindir, name)).st_mode
            self.assertEqual(mode & 0o022, 0, name)
        unit = read(self.unit_path())
        for want in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes",
                     "ProtectSystem=strict", "StateDirectory=hookd", "CapabilityBoundingSet=\n"):
            self.assertIn(want, unit)
        self.assertNotIn("@CMAKE", unit)
        # Without a build tree the binary looks in the configured prefix.
        with open(self.p("bin/hookd"), "rb") as f:
            self.assertIn(os.path.join(configured_prefix(), "lib/hookd/plugins").encode(), f.read())

    def test_man_page(self):
        text = read(self.p("share/man/man8/hookd.8"))
        self.assertTrue(text.lstrip().startswith(('.\\"', ".TH")))
        for section in ("COMMANDS", "OPTIONS", "FILES", "SIGNALS", "EXIT STATUS"):
            self.assertIn(f".SH {section}", text)
        if shutil.which("groff"):
            r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", self.p("share/man/man8/hookd.8")],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr.strip(), "", r.stderr)

    def test_pkg_config(self):
        if not shutil.which("pkg-config"):
            self.skipTest("no pkg-config")
        env = dict(os.environ, PKG_CONFIG_PATH=self.pcdir)
        out = lambda *a: subprocess.run(["pkg-config", *a, "hookd-plugin"], env=env, check=True,
                                        capture_output=True, text=True).stdout.strip()
        cflags = out("--cflags")
        inc = re.search(r"-I(\S+)", cflags).group(1)
        self.assertTrue(os.path.samefile(inc, self.p("include")), cflags)
        self.assertIn("-ljansson", out("--libs"))
        self.assertTrue(os.path.samefile(out("--variable=plugindir"), self.plugindir))

    def test_systemd_analyze_verify(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("no systemd-analyze")
        # The unit names the configured prefix's binary: point it at the staged one.
        text = read(self.unit_path())
        text = re.sub(r"(Exec\w+=)\S*/bin/hookd", r"\1" + self.p("bin/hookd"), text)
        unit = os.path.join(self.dir, "hookd.service")
        with open(unit, "w") as f:
            f.write(text)
        env = dict(os.environ, MANPATH=self.p("share/man"))  # man:hookd(8) must resolve
        r = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True,
                           env=env, timeout=120)
        out = r.stdout + r.stderr
        if r.returncode != 0 and re.search(r"(?i)(system has not been booted|connect to bus|"
                                           r"Failed to (initialize|setup)|Operation not permitted)", out):
            self.skipTest("systemd-analyze cannot run here: " + out.strip()[:200])
        self.assertEqual(r.returncode, 0, out)
        # Unknown keys or bad values are only warnings: none may name our unit.
        self.assertNotIn("hookd.service:", out, out)

    def test_custom_plugin_builds_and_runs(self):
        if not (shutil.which("make") and shutil.which("pkg-config")):
            self.skipTest("needs make and pkg-config")
        src = os.path.join(harness.SOURCE_DIR, "examples/custom-plugin")
        work = os.path.join(self.dir, "custom-plugin")
        shutil.copytree(src, work)
        plugindir = os.path.join(self.dir, "plugins")
        shutil.copytree(self.plugindir, plugindir)   # the staged plugins plus ours
        env = dict(os.environ, PKG_CONFIG_PATH=self.pcdir)
        env.pop("CFLAGS", None)
        r = subprocess.run(["make", "-C", work, "CFLAGS=-O2 -g -Werror"], env=env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("-I" + self.pcdir, r.stdout)   # the staged header, not the source tree
        r = subprocess.run(["make", "-C", work, "install", "PLUGINDIR=" + plugindir], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(os.path.isfile(os.path.join(plugindir, "account_log.so")))

        accounts = os.path.join(self.dir, "accounts.log")
        plugins = textwrap.dedent(f"""\
          - name: audit
            use: file
            config: {{ path: {self.events} }}
          - name: accounts
            use: account_log
            config: {{ path: {accounts} }}
        """)
        cfg = harness.base_config(self.dir, plugins=plugins,
                                  routes='  - { match: "*", to: [audit, accounts] }\n')
        cfg = cfg.replace(f"plugin_dir: {harness.PLUGIN_DIR}\n", f"plugin_dir: {plugindir}\n")
        self.assertIn(f"plugin_dir: {plugindir}\n", cfg)

        saved = harness.HOOKD
        harness.HOOKD = self.p("bin/hookd")   # the installed binary
        try:
            h = self.hookd(cfg)
        finally:
            harness.HOOKD = saved
        r = h.post(ctct_body("account.cancel", account="a07e1ih151d0"))
        self.assertEqual(r.status, 200, r)

        def lines():
            try:
                with open(accounts) as f:
                    return f.read().splitlines()
            except FileNotFoundError:
                return []
        wait_for(lambda: lines(), what="the custom plugin's line")
        self.assertEqual(lines(), ["account.cancel a07e1ih151d0"])
        wait_for(lambda: read_lines(self.events), what="the installed file plugin's line")
        self.assertEqual(read_lines(self.events)[0]["id"], r.json()["id"])


if __name__ == "__main__":
    unittest.main()
