"""The cluster mode (docs/DESIGN.md §11): three hookd nodes on one PostgreSQL
spool (driver: postgres) behind a real haproxy. Every event answered 200 is
delivered once by some node; a node killed (SIGKILL) while it runs a slow
delivery loses it to another node once its lease passes; one dedup key sent
to two nodes is one event, both answered with its id."""
import json
import os
import subprocess
import tempfile
import textwrap
import threading
import time
import unittest

import pgcluster
from cluster import NODE_HEADER, ClusterCase, admin_get, node_config
from harness import HOOKD, PASSWORD, SECRET, USER, base_config, ctct_body, wait_for

PATH = "/webhooks/ctct"
SPOOL = "spool: { driver: postgres, conninfo: @CONNINFO@, node: n@INDEX@, lease: 2s }\n"

SOURCES = textwrap.dedent(f"""\
  - name: constantcontact
    path: {PATH}
    auth: {{ basic: {{ username: {USER}, password: "{PASSWORD}" }} }}
    verify: {{ scheme: ctct-hmac-sha256, secret: "{SECRET}" }}
    event_type: /event_type
    dedup: {{ key: "header:X-Id", window: 1h }}
""")

# audit: the file plugin (@DIR@/events.jsonl); slow: a delivery that takes 5 s.
PLUGINS = textwrap.dedent("""\
  - name: audit
    use: file
    config: { path: "@DIR@/events.jsonl" }
  - name: slow
    use: exec
    timeout: 30s
    config: { command: ["/bin/sh", "-c", "sleep 5"] }
""")

ROUTES = ('  - { match: "tier.*", to: [audit] }\n'
          '  - { match: "slow.*", to: [slow] }\n')


def template():
    return node_config(spool=SPOOL, sources=SOURCES, plugins=PLUGINS, routes=ROUTES)


class ClusterOnPostgres(pgcluster.WithPostgres, ClusterCase):
    def start(self):
        c = self.cluster(template(), n=3, pg=self.pg)
        for n in c.nodes:
            self.assertNotIn("s3cret", n.log_text(), "the conninfo's password was logged")
        return c

    def check(self, conninfo):
        """hookd check on a configuration with this conninfo."""
        d = tempfile.mkdtemp(prefix="hookd-check-")
        path = os.path.join(d, "check.yaml")
        with open(path, "w") as f:
            f.write(base_config(d, top="spool: { driver: postgres, conninfo: %s, node: c1 }\n"
                                % json.dumps(conninfo)))
        r = subprocess.run([HOOKD, "check", "-c", path], capture_output=True, timeout=60)
        subprocess.run(["rm", "-rf", d])
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def test_check_reports_the_spool(self):
        rc, out, err = self.check(self.pg.conninfo())
        self.assertEqual(rc, 0, err)
        self.assertIn("spool: postgres, node c1, lease 30000 ms: PostgreSQL hookd on 127.0.0.1:"
                      " reachable, no tables yet", out)
        self.start()
        rc, out, err = self.check(self.pg.conninfo())
        self.assertEqual(rc, 0, err)
        self.assertIn("reachable, schema 1 (this hookd: 1)", out)
        # Unreachable: a warning (the daemon would wait and retry), never the password.
        rc, out, err = self.check("host=127.0.0.1 port=1 dbname=x user=u password=pw-secret"
                                  " connect_timeout=2")
        self.assertEqual(rc, 0, err)
        self.assertIn("warning: PostgreSQL not reachable", out)
        self.assertNotIn("pw-secret", out + err)
        # A schema newer than this hookd: it would not start, so check fails.
        self.q("UPDATE hookd_meta SET value = '99' WHERE key = 'schema'")
        rc, out, err = self.check(self.pg.conninfo())
        self.assertEqual(rc, 2, out)
        self.assertIn("spool: the database has schema 99; this hookd knows 1", err)

    def test_every_event_delivered_once(self):
        c = self.start()
        ids, nodes = [], set()
        for i in range(30):
            r = c.post(PATH, ctct_body("tier.increase", account=f"acct{i}"))
            self.assertIsNotNone(r, "haproxy closed without an answer")
            self.assertEqual(r.status, 200, r)
            ids.append(r.json()["id"])
            nodes.add(r.headers.get(NODE_HEADER.lower()))
        self.assertEqual(len(set(ids)), 30)
        self.assertEqual(nodes, {"node0", "node1", "node2"})

        def delivered():
            return sum(len(n.event_ids()) for n in c.nodes) >= 30
        wait_for(delivered, what="30 events in the nodes' files")
        every = [eid for n in c.nodes for eid in n.event_ids()]
        self.assertEqual(sorted(every), sorted(ids), "the files hold exactly the 30 ids, once each")
        wait_for(lambda: self.q("SELECT count(*) FROM hookd_deliveries"
                                " WHERE state = 'delivered'") == [("30",)],
                 what="30 deliveries 'delivered' in PostgreSQL")
        self.assertEqual(self.q("SELECT count(*) FROM hookd_deliveries"), [("30",)])
        self.assertEqual(self.q("SELECT count(*) FROM hookd_events"), [("30",)])

    def test_killed_node_delivery_taken_over(self):
        c = self.start()
        r = c.post(PATH, ctct_body("slow.run", account="slow1"))
        self.assertEqual(r.status, 200, r)
        eid = r.json()["id"]
        name = r.headers.get(NODE_HEADER.lower())
        holder = next(n for n in c.nodes if n.name == name)
        spool_node = "n%d" % holder.index
        row = (f"SELECT d.id, d.node, d.state FROM hookd_deliveries d JOIN hookd_events e"
               f" ON e.seq = d.event WHERE e.id = '{eid}'")
        rows = self.q(row)
        self.assertEqual(len(rows), 1)
        delivery, node, state = rows[0]
        self.assertEqual((node, state), (spool_node, "pending"))
        # Its sleep is running: the holder dies before it ends.
        def running():
            ps = subprocess.run(["ps", "-o", "args=", "--ppid", str(holder.pid)],
                                capture_output=True, text=True)
            return "sleep" in ps.stdout
        wait_for(running, what="the slow delivery running")
        holder.kill()
        t0 = time.monotonic()
        wait_for(lambda: self.q(f"SELECT state FROM hookd_deliveries WHERE id = {delivery}")
                 == [("delivered",)], timeout=30, what="another node delivering it")
        # The lease (2 s) had to pass first, then the 5 s run.
        self.assertGreater(time.monotonic() - t0, 4)
        attempts = self.q(f"SELECT node, result FROM hookd_attempts WHERE delivery = {delivery}")
        self.assertEqual(len(attempts), 1, attempts)
        self.assertNotEqual(attempts[0][0], spool_node)
        self.assertIn(attempts[0][0], {"n0", "n1", "n2"})
        self.assertEqual(attempts[0][1], "ok")

    def test_late_result_changes_nothing(self):
        """A holder stopped (SIGSTOP) past its lease: another node delivers;
        when the first runs again its result is not written, only counted."""
        c = self.start()
        r = c.post(PATH, ctct_body("slow.run", account="slow2"))
        self.assertEqual(r.status, 200, r)
        eid = r.json()["id"]
        holder = next(n for n in c.nodes if n.name == r.headers.get(NODE_HEADER.lower()))
        spool_node = "n%d" % holder.index
        delivery = self.q(f"SELECT d.id FROM hookd_deliveries d JOIN hookd_events e"
                          f" ON e.seq = d.event WHERE e.id = '{eid}'")[0][0]

        def running():
            ps = subprocess.run(["ps", "-o", "args=", "--ppid", str(holder.pid)],
                                capture_output=True, text=True)
            return "sleep" in ps.stdout
        wait_for(running, what="the slow delivery running")
        holder.stop()  # SIGSTOP: it renews nothing; its sleep runs on
        wait_for(lambda: self.q(f"SELECT state FROM hookd_deliveries WHERE id = {delivery}")
                 == [("delivered",)], timeout=30, what="another node delivering it")
        holder.cont()
        # The holder's own attempt ends (its sleep exited meanwhile): lost.
        def lost():
            resp = admin_get(holder.admin_port, "/metrics")
            return b"\nhookd_lease_lost_total 1\n" in resp.body
        wait_for(lost, timeout=20, what="the late result counted")
        attempts = self.q(f"SELECT node, result FROM hookd_attempts WHERE delivery = {delivery}")
        self.assertEqual(len(attempts), 1, attempts)
        self.assertNotEqual(attempts[0][0], spool_node)
        self.assertEqual(self.q(f"SELECT state, claim IS NULL FROM hookd_deliveries"
                                f" WHERE id = {delivery}"), [("delivered", "t")])

    def test_one_key_on_two_nodes_is_one_event(self):
        c = self.start()
        body = ctct_body("tier.increase", account="dedup1")
        answers = [None, None]

        def send(i):
            answers[i] = c.node(i).post(PATH, body, headers={"X-Id": "same-key-1"})
        threads = [threading.Thread(target=send, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in answers:
            self.assertIsNotNone(r)
            self.assertEqual(r.status, 200, r)
        ids = [r.json()["id"] for r in answers]
        self.assertEqual(ids[0], ids[1], [r.json() for r in answers])
        self.assertEqual(self.q("SELECT count(*) FROM hookd_events"), [("1",)])
        self.assertEqual(self.q("SELECT event FROM hookd_dedup"), [(ids[0],)])
        # A third, sequentially, on the last node: the duplicate again.
        r = c.node(2).post(PATH, body, headers={"X-Id": "same-key-1"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["id"], ids[0])
        self.assertTrue(r.json().get("duplicate"), r.json())
        wait_for(lambda: sum(len(n.event_ids()) for n in c.nodes) >= 1, what="one delivery")
        time.sleep(0.5)
        self.assertEqual(sum(len(n.event_ids()) for n in c.nodes), 1)
