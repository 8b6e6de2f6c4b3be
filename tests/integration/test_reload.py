"""SIGHUP reload (docs/DESIGN.md §6): the new configuration is built beside the running
one, on a thread of its own, and then replaces it; a bad file keeps the
running one; the listeners stay open, so a reload under load refuses nothing,
and a plugin whose init() blocks holds no request."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import unittest

try:
    from prometheus_client.parser import text_string_to_metric_families  # noqa: F401
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")

from harness import (FIXTURE_DIR, SLOW, HookdCase, USER, PASSWORD, basic, base_config,
                     ctct_body, ctct_sig, read_lines, wait_for)
from test_admin import admin_port, scrape, val

ADMIN = 'admin: { listen: "127.0.0.1:0" }\n'
SPOOL = "spool: { path: spool.db, sync: normal }\n"


def two_plugins(workdir):
    a, b = os.path.join(workdir, "a.jsonl"), os.path.join(workdir, "b.jsonl")
    return a, b, textwrap.dedent(f"""\
      - name: plug-a
        use: file
        config: {{ path: {a} }}
      - name: plug-b
        use: file
        config: {{ path: {b} }}
    """)


def routed(workdir, to, top=SPOOL, secret=None):
    a, b, plugins = two_plugins(workdir)
    sources = None
    if secret:
        sources = textwrap.dedent(f"""\
          - name: constantcontact
            path: /webhooks/ctct
            auth: {{ basic: {{ username: {USER}, password: "{PASSWORD}" }} }}
            verify: {{ scheme: ctct-hmac-sha256, secret: "{secret}" }}
            event_type: /event_type
        """)
    return base_config(workdir, top=top, plugins=plugins, sources=sources,
                       routes=f'  - {{ match: "tier.*", to: [{to}] }}\n')


def hup_and_wait(h, what, count=1, timeout=20):
    """SIGHUP, then waits for the count-th log line containing `what`."""
    before = h.run_log().count(what)
    h.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: h.run_log().count(what) >= before + count, timeout=timeout,
             what=f"{what!r} in the log")


class Reload(HookdCase):
    def test_route_change_applies_to_next_event(self):
        h = self.hookd(routed(self.dir, "plug-a"))
        a, b = os.path.join(self.dir, "a.jsonl"), os.path.join(self.dir, "b.jsonl")
        r = h.post(ctct_body("tier.increase"))
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: len(read_lines(a)) == 1, what="event in a")
        port = h.port
        h.write_config(routed(self.dir, "plug-b"))
        hup_and_wait(h, "reloaded")
        self.assertRegex(h.run_log(), r"reloaded .*hookd\.yaml: 1 sources, 2 plugin instances, "
                                      r"1 routes")
        # The same listening socket still answers, and the next event goes to B.
        self.assertEqual(h.port, port)
        r = h.post(ctct_body("tier.decrease"))
        self.assertEqual(r.status, 200, r)
        lines = wait_for(lambda: read_lines(b), what="event in b")
        self.assertEqual(lines[0]["id"], r.json()["id"])
        time.sleep(0.3)
        self.assertEqual(len(read_lines(a)), 1)
        self.assertTrue(h.alive())

    def test_bad_file_keeps_running_configuration(self):
        h = self.hookd(routed(self.dir, "plug-a"))
        a = os.path.join(self.dir, "a.jsonl")
        h.write_config("server:\n  listen: [\"127.0.0.1:0\"]\nsources: [ {name: x\n")
        hup_and_wait(h, "reload failed")
        log = h.run_log()
        self.assertRegex(log, r"reload failed: \S*hookd\.yaml:\d+:\d+: .*; keeping the running "
                              r"configuration")
        self.assertNotIn("reloaded", log)
        r = h.post(ctct_body("tier.increase"))
        self.assertEqual(r.status, 200, r)
        lines = wait_for(lambda: read_lines(a), what="event in a")
        self.assertEqual(lines[0]["id"], r.json()["id"])

    def test_plugin_init_failure_keeps_running_configuration(self):
        h = self.hookd(routed(self.dir, "plug-a"))
        b = os.path.join(self.dir, "b.jsonl")
        broken = routed(self.dir, "plug-b").replace(f"{{ path: {b} }}", "{ colour: blue }")
        self.assertIn("colour", broken)
        h.write_config(broken)
        hup_and_wait(h, "reload failed")
        self.assertRegex(h.run_log(), r"reload failed: \S*hookd\.yaml:\d+:\d+: "
                                      r"plugins\[1\]\.config: plug-b: unknown key")
        self.assertEqual(h.post(ctct_body()).status, 200)
        wait_for(lambda: read_lines(os.path.join(self.dir, "a.jsonl")), what="event in a")
        self.assertEqual(read_lines(b), [])

    def test_changed_secret_takes_effect(self):
        h = self.hookd(routed(self.dir, "plug-a"))
        body = ctct_body("tier.increase")
        self.assertEqual(h.post(body).status, 200)
        h.write_config(routed(self.dir, "plug-a", secret="rotated-secret"))
        hup_and_wait(h, "reloaded")
        self.assertEqual(h.post(body).status, 401)
        r = h.post(body, headers={"x-ctct-hmac-sha256": ctct_sig(body, "rotated-secret")})
        self.assertEqual(r.status, 200, r)

    def test_restart_only_settings_are_kept(self):
        h = self.hookd(routed(self.dir, "plug-a", top=SPOOL))
        port = h.port
        h.write_config(routed(self.dir, "plug-b", top="spool: { path: other.db, sync: full }\n"
                                                     "dispatch: { workers: 2 }\n"))
        hup_and_wait(h, "reloaded")
        self.assertRegex(h.run_log(), r"reload: spool\.path, spool\.sync, dispatch\.workers "
                                      r"changed: that needs a restart")
        self.assertEqual(h.post(ctct_body()).status, 200)
        wait_for(lambda: read_lines(os.path.join(self.dir, "b.jsonl")), what="event in b")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "other.db")))
        self.assertEqual(h.port, port)

    def test_spool_store_needs_a_restart(self):
        h = self.hookd(routed(self.dir, "plug-a", top=SPOOL))
        h.write_config(routed(self.dir, "plug-b", top=(
            "spool: { driver: postgres, conninfo: 'host=127.0.0.1 port=1 dbname=x password=pw',"
            " node: n2, lease: 5s, pool: 2 }\n")))
        hup_and_wait(h, "reloaded")
        log = h.run_log()
        self.assertRegex(log, r"reload: spool\.path, spool\.sync, spool\.driver, spool\.conninfo, "
                              r"spool\.node, "
                              r"spool\.lease, spool\.pool changed: that needs a restart")
        self.assertNotIn("password=pw", log)
        # Still the SQLite spool it started with.
        self.assertEqual(h.post(ctct_body()).status, 200)
        wait_for(lambda: read_lines(os.path.join(self.dir, "b.jsonl")), what="event in b")

    def test_metrics_count_reloads(self):
        h = self.hookd(routed(self.dir, "plug-a", top=ADMIN + SPOOL))
        port = admin_port(h)
        _, _, m = scrape(port)
        self.assertEqual(val(m, "hookd_reloads_total", result="ok"), 0)
        self.assertEqual(h.post(ctct_body()).status, 200)
        wait_for(lambda: read_lines(os.path.join(self.dir, "a.jsonl")), what="event in a")
        h.write_config(routed(self.dir, "plug-b", top=ADMIN + SPOOL))
        hup_and_wait(h, "reloaded")
        hup_and_wait(h, "reloaded")
        h.write_config("plugins: [\n")
        hup_and_wait(h, "reload failed")
        _, _, m = scrape(port)
        self.assertEqual(val(m, "hookd_reloads_total", result="ok"), 2)
        self.assertEqual(val(m, "hookd_reloads_total", result="failed"), 1)
        # Counts carry over by instance name.
        self.assertEqual(val(m, "hookd_deliveries_total", plugin="plug-a", result="ok"), 1)
        self.assertEqual(val(m, "hookd_requests_total", source="constantcontact", status="200"),
                         1)

    def test_running_delivery_ends_on_old_instance_then_it_is_released(self):
        count = os.path.join(self.dir, "slow.count")
        slow = textwrap.dedent(f"""\
          - name: slow
            use: {FIXTURE_DIR}/good.so
            config: {{ sleep_ms: 1500, count_file: {count} }}
        """)
        h = self.hookd(base_config(self.dir, top=SPOOL, plugins=slow,
                                   routes='  - { match: "*", to: [slow] }\n'))
        r = h.post(ctct_body())
        self.assertEqual(r.status, 200, r)
        eid = r.json()["id"]
        wait_for(lambda: os.path.exists(count), what="the slow delivery to start")
        h.write_config(base_config(self.dir, top=SPOOL))  # the file plugin "audit"
        hup_and_wait(h, "reloaded")
        self.assertNotIn("released", h.run_log())  # its delivery still runs
        r2 = h.post(ctct_body())
        self.assertEqual(r2.status, 200, r2)
        lines = wait_for(lambda: read_lines(self.events), what="event in the file plugin")
        self.assertEqual([ev["id"] for ev in lines], [r2.json()["id"]])
        wait_for(lambda: "released" in h.run_log(), timeout=10, what="old runtime released")
        log = h.run_log()
        self.assertLess(log.index("reloaded"), log.index("delivery ok"))
        self.assertLess(log.index("delivery ok"), log.index("released"))
        with open(count) as f:
            self.assertEqual(f.read().split(), [eid])

    def gated(self, name="gated", max_ms=30000 * SLOW):
        """A configuration whose new instance's init() waits for a file (at
        most max_ms: as long as the harness's waits, under valgrind too)."""
        started, gate = (os.path.join(self.dir, f"{name}.{w}") for w in ("started", "gate"))
        plugins = textwrap.dedent(f"""\
          - name: audit
            use: file
            config: {{ path: {self.events} }}
          - name: {name}
            use: {FIXTURE_DIR}/gated_init.so
            config: {{ started: {started}, gate: {gate}, max_ms: {max_ms} }}
        """)
        return started, gate, base_config(self.dir, top=SPOOL, plugins=plugins)

    def hup_into_gated_build(self):
        """A running hookd, SIGHUP'd into a build blocked in init(); gives
        (h, the gate file that lets the build go on)."""
        h = self.hookd(base_config(self.dir, top=SPOOL))
        started, gate, cfg = self.gated()
        h.write_config(cfg)
        h.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: os.path.exists(started), what="the new instance's init to start")
        return h, gate

    def test_slow_plugin_init_holds_no_request(self):
        h, gate = self.hup_into_gated_build()
        # init() is blocked on the gate: requests are answered meanwhile.
        for _ in range(3):
            r = h.post(ctct_body())
            self.assertEqual(r.status, 200, r)
        self.assertNotIn("reloaded", h.run_log())
        self.assertEqual(len(wait_for(lambda: len(read_lines(self.events)) == 3 and
                                      read_lines(self.events), what="3 events delivered")), 3)
        # A second SIGHUP during the build is not lost: it builds again after.
        h.proc.send_signal(signal.SIGHUP)
        open(gate, "w").close()
        wait_for(lambda: h.run_log().count("reloaded") == 2, what="two reloads", log=h.run_log)
        self.assertEqual(h.run_log().count("SIGHUP: reloading"), 2)
        self.assertIn("2 plugin instances", h.run_log())

    def test_stop_during_a_build_waits_for_it_and_exits_cleanly(self):
        h, gate = self.hup_into_gated_build()
        h.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "stopping" in h.run_log(), what="stopping")
        self.assertIsNone(h.proc.poll(), "exited while the build still ran")
        open(gate, "w").close()
        self.assertEqual(h.proc.wait(30), 0, h.run_log()[-3000:])
        log = h.run_log()
        self.assertNotIn("reloaded", log)
        self.assertIn("stopped", log)

    def test_failed_slow_build_keeps_the_running_configuration(self):
        h = self.hookd(base_config(self.dir, top=SPOOL))
        started, gate, cfg = self.gated(max_ms=300)
        h.write_config(cfg)
        hup_and_wait(h, "reload failed")
        self.assertIn("gated.gate never appeared; keeping the running configuration",
                      h.run_log())
        r = h.post(ctct_body())
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: read_lines(self.events), what="event delivered by the running config")

    def test_notify_reloading_then_ready(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        addr = os.path.join(self.dir, "notify.sock")
        s.bind(addr)
        s.settimeout(20)
        h = self.hookd(routed(self.dir, "plug-a"), env={"NOTIFY_SOCKET": addr})

        def fields():
            return dict(line.partition("=")[::2] for line in s.recv(4096).decode().split("\n")
                        if line)
        self.assertEqual(fields().get("READY"), "1")
        for good in (True, False):
            if not good:
                h.write_config("plugins: [\n")
            h.proc.send_signal(signal.SIGHUP)
            f = fields()
            self.assertEqual(f.get("RELOADING"), "1", f)
            self.assertIn("MONOTONIC_USEC", f)
            f = fields()
            self.assertEqual(f.get("READY"), "1", f)  # after a failed reload too
        self.assertEqual(h.post(ctct_body()).status, 200)

    @unittest.skipUnless(shutil.which("wrk"), "wrk is not installed")
    def test_reloads_under_load_refuse_nothing(self):
        top = SPOOL + "dispatch: { queue: 1000000 }\n"
        h = self.hookd(routed(self.dir, "plug-a", top=top))
        body = ctct_body("tier.increase").decode()
        script = os.path.join(self.dir, "post.lua")
        with open(script, "w") as f:
            f.write(textwrap.dedent(f"""\
                wrk.method = "POST"
                wrk.body = '{body}'
                wrk.headers["Content-Type"] = "application/json"
                wrk.headers["Authorization"] = "{basic()}"
                wrk.headers["x-ctct-hmac-sha256"] = "{ctct_sig(body.encode())}"
            """))
        url = f"http://127.0.0.1:{h.port}/webhooks/ctct"
        wrk = subprocess.Popen(["wrk", "-t1", "-c20", "-d6s", "-s", script, url],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(0.5)
            for i in range(20):
                h.write_config(routed(self.dir, "plug-b" if i % 2 == 0 else "plug-a", top=top))
                hup_and_wait(h, "reloaded")
                time.sleep(0.15)
            out, _ = wrk.communicate(timeout=60)
        finally:
            if wrk.poll() is None:
                wrk.kill()
                wrk.wait()
        self.assertEqual(h.run_log().count("reloaded"), 20)
        m = re.search(r"(\d+) requests in", out)
        self.assertTrue(m and int(m.group(1)) > 100, out)
        self.assertNotIn("Non-2xx", out)
        self.assertNotIn("Socket errors", out)
        self.assertTrue(h.alive())
        # Every accepted event is delivered, to one plug or the other.
        total = int(m.group(1))
        a, b = os.path.join(self.dir, "a.jsonl"), os.path.join(self.dir, "b.jsonl")
        wait_for(lambda: len(read_lines(a)) + len(read_lines(b)) >= total, timeout=60,
                 what="every event delivered")
        self.assertGreater(len(read_lines(b)), 0)
        # The harness checks the exit code of the SIGTERM stop (0, no sanitizer report).


if __name__ == "__main__":
    unittest.main()
