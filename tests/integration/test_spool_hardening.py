"""Issue 15's spool items, as an operator meets them: a second daemon on a
spool in use is refused (naming the spool and the other process) while the
read-only commands keep working beside the first; the spool's files hold raw
bodies and headers, so nobody but hookd's user can read them."""
import os
import stat
import subprocess
import unittest

from harness import HOOKD, HookdCase, base_config, ctct_body


class SpoolFiles(HookdCase):
    def test_second_daemon_on_the_same_spool_is_refused(self):
        h = self.hookd()
        first = h.post(ctct_body())
        self.assertEqual(first.status, 200, first)
        # The same file, another listener: it must not start.
        other = os.path.join(self.dir, "second.yaml")
        with open(other, "w") as f:
            f.write(base_config(self.dir))
        r = subprocess.run([HOOKD, "run", "-c", other], cwd=self.dir, capture_output=True,
                           text=True, timeout=20)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("hookd-spool.db", r.stderr)
        self.assertIn(f"pid {h.pid}", r.stderr)
        # The first one is untouched, and the read-only commands still work.
        self.assertTrue(h.alive())
        self.assertEqual(h.post(ctct_body("tier.decrease")).status, 200)
        ev = self.run_cli("events", "-c", h.cfg, "--json")
        self.assertEqual(ev.returncode, 0, ev.stderr)
        self.assertIn(first.json()["id"], ev.stdout.decode())

    def test_spool_files_are_private(self):
        h = self.hookd(preexec_fn=lambda: os.umask(0o022))
        self.assertEqual(h.post(ctct_body()).status, 200)
        names = ["hookd-spool.db", "hookd-spool.db-wal", "hookd-spool.db-shm"]
        for name in names:
            mode = stat.S_IMODE(os.stat(os.path.join(self.dir, name)).st_mode)
            self.assertEqual(mode & 0o077, 0, f"{name} is {oct(mode)}")

    def test_wider_spool_files_are_narrowed_at_start(self):
        h = self.hookd()
        self.assertEqual(h.post(ctct_body()).status, 200)
        self.assertEqual(h.stop(), 0)
        db = os.path.join(self.dir, "hookd-spool.db")
        os.chmod(db, 0o644)
        h.start()
        self.assertEqual(stat.S_IMODE(os.stat(db).st_mode), 0o600)
        self.assertIn("narrowed", h.run_log())


if __name__ == "__main__":
    unittest.main()
