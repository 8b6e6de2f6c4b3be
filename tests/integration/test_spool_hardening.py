"""Issue 15's spool items, as an operator meets them: a second daemon on a
spool in use is refused (naming the spool and the other process) while the
read-only commands keep working beside the first; the spool's files hold raw
bodies and headers, so nobody but hookd's user can read them; a deleted spool
is noticed; retries to a dead downstream hold up no other source; a reload
keeps an instance's concurrency; the commands read a schema-1 spool."""
import json
import os
import sqlite3
import stat
import subprocess
import time
import unittest

from harness import (FIXTURE_DIR, HOOKD, PASSWORD, SECRET, USER, HookdCase, base_config,
                     ctct_body, ctct_sig, read_lines, wait_for)
from test_reload import hup_and_wait
from test_spool import SpoolCase, downgrade_to_schema_1


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


class Deleted(HookdCase):
    def test_deleted_spool_fails_readyz_and_answers_503(self):
        import urllib.error
        import urllib.request
        from test_admin import admin_port
        h = self.hookd(base_config(self.dir, top='admin: { listen: "127.0.0.1:0" }\n'))
        self.assertEqual(h.post(ctct_body()).status, 200)
        ready = f"http://127.0.0.1:{admin_port(h)}/readyz"
        self.assertEqual(urllib.request.urlopen(ready, timeout=5).status, 200)
        for name in ("hookd-spool.db", "hookd-spool.db-wal", "hookd-spool.db-shm"):
            try:
                os.unlink(os.path.join(self.dir, name))
            except FileNotFoundError:
                pass

        def not_ready():
            try:
                urllib.request.urlopen(ready, timeout=5)
                return False
            except urllib.error.HTTPError as e:
                return e.code == 503
        wait_for(not_ready, what="/readyz failing")
        r = h.post(ctct_body("tier.decrease"))
        self.assertEqual(r.status, 503, r)
        self.assertIn("retry-after", r.headers)
        log = h.run_log()
        self.assertEqual(log.count("was deleted or replaced"), 1, log)


class Intake(HookdCase):
    def test_retries_waiting_do_not_block_other_sources(self):
        """Deliveries waiting for their back-off are in the spool: they do
        not count against dispatch.queue, so a dead downstream on one source
        leaves the others served."""
        sources = "".join(
            f"- name: {n}\n  path: /{n}\n"
            f"  auth: {{ basic: {{ username: {USER}, password: \"{PASSWORD}\" }} }}\n"
            f"  verify: {{ scheme: ctct-hmac-sha256, secret: \"{SECRET}\" }}\n"
            for n in ("a", "b"))
        plugins = (f"- name: dead\n  use: exec\n  config: {{ command: [\"/bin/sh\", \"-c\", "
                   f"\"exit 75\"] }}\n  retry: {{ attempts: 50, backoff: 30s, max_backoff: 1m }}\n"
                   f"- name: audit\n  use: file\n  config: {{ path: {self.events} }}\n")
        routes = ('  - { match: "*", source: a, to: [dead] }\n'
                  '  - { match: "*", source: b, to: [audit] }\n')
        h = self.hookd(base_config(self.dir, sources=sources, plugins=plugins, routes=routes,
                                   top="dispatch: { workers: 2, queue: 20 }\n"))
        accepted = 0
        for i in range(40):
            r = h.post(ctct_body(account=f"a{i}"), path="/a")
            accepted += r.status == 200
            if accepted >= 25:
                break
            if r.status == 503:
                wait_for(lambda: h.run_log().count("will retry") >= accepted,
                         what="the failed attempts")
        self.assertGreaterEqual(accepted, 25)
        wait_for(lambda: h.run_log().count("will retry") >= 25, what="25 retries waiting")
        ids = []
        for i in range(5):
            r = h.post(ctct_body(account=f"b{i}"), path="/b")
            self.assertEqual(r.status, 200, r)
            ids.append(r.json()["id"])
        wait_for(lambda: len(read_lines(self.events)) == 5, what="source b delivered")
        # What the spool hands back (a replay here; a restart's leftovers, a
        # released retry) is not held up by the retries in memory either.
        r = self.run_cli("replay", "-c", h.cfg, ids[0])
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: len(read_lines(self.events)) == 6, what="the replayed b event")

    def test_retries_past_the_memory_bound_wait_in_the_spool(self):
        """An instance holds at most 64 retries in memory; the others wait in
        the spool alone and still get every attempt when they are due."""
        plugins = (f"- name: dead\n  use: exec\n  config: {{ command: [\"/bin/sh\", \"-c\", "
                   f"\"exit 75\"] }}\n  concurrency: 8\n"
                   # Full jitter: back-offs of up to 3 s keep well over 64 waiting at once.
                   f"  retry: {{ attempts: 3, backoff: 3s, max_backoff: 3s }}\n")
        h = self.hookd(base_config(self.dir, plugins=plugins,
                                   routes='  - { match: "*", to: [dead] }\n',
                                   top="dispatch: { workers: 4, queue: 1000 }\n"))
        for i in range(100):
            self.assertEqual(h.post(ctct_body(account=f"a{i}")).status, 200)

        def dead():
            r = self.run_cli("dead", "-c", h.cfg, "--json", "--limit", "1000")
            self.assertEqual(r.returncode, 0, r.stderr)
            return len(json.loads(r.stdout))
        wait_for(lambda: dead() == 100, timeout=30, what="every delivery's 3 attempts")
        log = h.run_log()
        self.assertEqual(log.count("will retry"), 200)
        self.assertGreater(log.count("will retry from the spool"), 0)


class Promises(SpoolCase):
    """Tests the suite lacked (issue 15, item 19): each fails against a bug
    planted where a regression would put it."""

    def test_sync_full_reaches_the_disk(self):
        """The writer's SQLite runs at synchronous=FULL (2) under sync: full,
        NORMAL (1) under sync: normal, as read back from the open spool."""
        for sync, level in (("full", 2), ("normal", 1)):
            h = self.hookd(base_config(self.dir, top=f"spool: {{ path: s-{sync}.db, sync: {sync} }}\n"))
            self.assertIn(f"synchronous={level}", h.run_log())
            self.assertEqual(h.stop(), 0)
            self.procs.remove(h)

    def test_retention_keeps_events_still_pending(self):
        plugins = (f"- name: later\n  use: exec\n  config: {{ command: [\"/bin/sh\", \"-c\", "
                   f"\"exit 75\"] }}\n  retry: {{ attempts: 5, backoff: 1h, max_backoff: 1h }}\n")
        h = self.hookd(base_config(self.dir, plugins=plugins,
                                   routes='  - { match: "*", to: [later] }\n',
                                   top="spool: { path: spool.db, sync: normal, retention: 1s }\n"))
        eid = self.post_ok(h, ctct_body())
        wait_for(lambda: "will retry" in h.run_log(), what="the first attempt")
        time.sleep(3)  # two retention passes past the event's age
        d = self.delivery(eid, "later")
        self.assertEqual(d["state"], "pending", d)

    def test_dedup_keys_are_per_source(self):
        sources = "".join(
            f"- name: {n}\n  path: /{n}\n"
            f"  verify: {{ scheme: ctct-hmac-sha256, secret: \"{SECRET}\" }}\n"
            f"  dedup: {{ key: body, window: 1h }}\n" for n in ("a", "b"))
        h = self.hookd(base_config(self.dir, sources=sources, top=SPOOL_TOP))
        body = ctct_body()
        ra, rb = h.post(body, path="/a", auth=False), h.post(body, path="/b", auth=False)
        self.assertEqual((ra.status, rb.status), (200, 200))
        self.assertNotEqual(ra.json()["id"], rb.json()["id"])
        self.assertNotIn("duplicate", rb.json())
        again = h.post(body, path="/b", auth=False)
        self.assertEqual(again.json().get("duplicate"), True)  # within one source it is
        wait_for(lambda: len(read_lines(self.events)) == 2, what="one delivery per source")


class ReloadAndSchema(SpoolCase):
    """Issue 15, item 17 (part)."""

    def test_old_and_new_copies_share_the_concurrency(self):
        """Right after a reload the old copy of an instance still runs its
        delivery: the new copy waits for it, concurrency 1 being the name's."""
        count = os.path.join(self.dir, "slow.count")
        slow = (f"- name: slow\n  use: {FIXTURE_DIR}/good.so\n  concurrency: 1\n"
                f"  config: {{ sleep_ms: 2000, count_file: {count} }}\n")
        cfg = base_config(self.dir, top=SPOOL_TOP + "dispatch: { workers: 4 }\n", plugins=slow,
                          routes='  - { match: "*", to: [slow] }\n')
        h = self.hookd(cfg)
        first = self.post_ok(h, ctct_body(account="one"))
        wait_for(lambda: os.path.exists(count), what="the first delivery to start")
        hup_and_wait(h, "reloaded")
        second = self.post_ok(h, ctct_body(account="two"))
        time.sleep(0.8)  # the first still sleeps: the second must not have started
        with open(count) as f:
            self.assertEqual(f.read().split(), [first])
        wait_for(lambda: h.run_log().count("delivery ok") == 2, what="both delivered")
        with open(count) as f:
            self.assertEqual(f.read().split(), [first, second])

    def schema_1(self, h):
        """Stops h and leaves its spool as a schema-1 hookd would have."""
        self.assertEqual(h.stop(), 0)
        downgrade_to_schema_1(os.path.join(self.dir, "spool.db"))

    def test_cli_reads_a_schema_1_spool(self):
        h = self.hookd(base_config(self.dir, top=SPOOL_TOP))
        eid = self.post_ok(h, ctct_body())
        wait_for(lambda: read_lines(self.events), what="the delivery")
        self.schema_1(h)
        self.assertEqual([e["id"] for e in self.cli_json("events")], [eid])
        self.assertEqual(self.cli_json("dead"), [])
        ev = self.show(eid)
        self.assertEqual((ev["id"], ev["enrichment"]), (eid, None))
        self.assertEqual(ev["deliveries"][0]["state"], "delivered")
        text = self.cli("events", "show", eid)
        self.assertEqual(text.returncode, 0, text.stderr)
        # Still schema 1: reading upgrades nothing.
        db = sqlite3.connect(os.path.join(self.dir, "spool.db"))
        self.assertEqual(db.execute("SELECT value FROM meta WHERE key='schema'").fetchone(),
                         ("1",))
        db.close()

    def test_cli_refuses_a_newer_spool_by_name(self):
        h = self.hookd(base_config(self.dir, top=SPOOL_TOP))
        eid = self.post_ok(h, ctct_body())
        self.assertEqual(h.stop(), 0)
        db = sqlite3.connect(os.path.join(self.dir, "spool.db"))
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema'")
        db.commit()
        db.close()
        for args in (("events",), ("dead",), ("events", "show", eid), ("replay", eid)):
            r = self.cli(*args)
            self.assertEqual(r.returncode, 1, (args, r.stdout))
            self.assertIn("spool.db has schema 3; this hookd reads schema 2",
                          r.stderr.decode(), args)


SPOOL_TOP = "spool: { path: spool.db, sync: normal }\n"


if __name__ == "__main__":
    unittest.main()
