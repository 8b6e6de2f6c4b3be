"""PostgreSQL failing under a cluster (docs/DESIGN.md §11, "Failure of
PostgreSQL"): while the server is down the nodes answer 503 with
Retry-After (never 200 for an event not committed), /readyz fails (so
haproxy takes them out) while /healthz stays 200; once it is back they are
ready again on their own, without traffic, and every event answered 200 is
delivered. Connections cut by pg_terminate_backend are opened again."""
import threading
import time
import unittest

import pgcluster
from cluster import ClusterCase, admin_get, node_config
from harness import PASSWORD, SECRET, USER, ctct_body, wait_for

PATH = "/webhooks/ctct"
SPOOL = "spool: { driver: postgres, conninfo: @CONNINFO@, node: n@INDEX@, lease: 5s }\n"
SOURCES = f"""\
  - name: constantcontact
    path: {PATH}
    auth: {{ basic: {{ username: {USER}, password: "{PASSWORD}" }} }}
    verify: {{ scheme: ctct-hmac-sha256, secret: "{SECRET}" }}
    event_type: /event_type
"""
PLUGINS = """\
  - name: audit
    use: file
    config: { path: "@DIR@/events.jsonl" }
"""
ROUTES = '  - { match: "*", to: [audit] }\n'


def template():
    return node_config(spool=SPOOL, sources=SOURCES, plugins=PLUGINS, routes=ROUTES)


def status(port, path):
    try:
        r = admin_get(port, path, timeout=2)
    except OSError:
        return None
    return r.status if r else None


class Load:
    """Threads posting signed events straight to the nodes until stopped;
    every answer is kept: (status, id or None, Retry-After or None)."""

    def __init__(self, nodes, threads=4):
        self.nodes, self.answers, self.lock = nodes, [], threading.Lock()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]

    def run(self, t):
        i = 0
        while not self.done.is_set():
            node = self.nodes[(t + i) % len(self.nodes)]
            r = node.post(PATH, ctct_body("tier.increase", account=f"load{t}-{i}"))
            i += 1
            if r is None:
                continue
            eid = r.json().get("id") if r.status == 200 else None
            with self.lock:
                self.answers.append((r.status, eid, r.headers.get("retry-after")))
            time.sleep(0.01)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        for t in self.threads:
            t.join(30)

    def count(self, code):
        with self.lock:
            return sum(1 for a in self.answers if a[0] == code)


class PostgresOutage(pgcluster.WithPostgres, ClusterCase):
    def delivered(self, c):
        return {eid for n in c.nodes for eid in n.event_ids()}

    def test_stopped_under_load(self):
        c = self.cluster(template(), n=2, pg=self.pg)
        with Load(c.nodes) as load:
            wait_for(lambda: load.count(200) >= 20, what="20 events accepted")
            self.pg.stop()
            stopped = load.count(503)
            # Every node says it is not ready; alive all the same.
            wait_for(lambda: all(status(n.admin_port, "/readyz") == 503 for n in c.nodes),
                     timeout=10, what="/readyz 503 on every node")
            for n in c.nodes:
                self.assertEqual(status(n.admin_port, "/healthz"), 200)
            wait_for(lambda: load.count(503) >= stopped + 10, timeout=10,
                     what="503 answers while PostgreSQL is down")
            for i in range(len(c.nodes)):
                c.wait_out(i)  # haproxy took it out of rotation
            self.pg.start()
            wait_for(lambda: all(n.ready() for n in c.nodes), timeout=30,
                     what="every node ready again")
            after = load.count(200)
            wait_for(lambda: load.count(200) >= after + 20, timeout=20,
                     what="events accepted again")
        for code, _, retry_after in load.answers:
            self.assertIn(code, (200, 503), load.answers)
            if code == 503:
                self.assertIsNotNone(retry_after, "a 503 without Retry-After")
                self.assertGreater(int(retry_after), 0)
        accepted = {eid for code, eid, _ in load.answers if code == 200}
        self.assertEqual(len(accepted), load.count(200), "an id answered twice")
        wait_for(lambda: accepted <= self.delivered(c), timeout=30,
                 what="every event answered 200 delivered")
        stored = {r[0] for r in self.pg.query(self.pg.dbname, "SELECT id FROM hookd_events")}
        self.assertLessEqual(accepted, stored)
        for n in c.nodes:
            log = n.log_text()
            self.assertTrue("unreachable" in log, f"{n.name} logged no outage")
            self.assertTrue("writing again; deliveries resume" in log,
                            f"{n.name} logged no recovery")
            self.assertFalse("s3cret" in log, "the conninfo's password was logged")

    def test_ready_again_without_traffic(self):
        """No request arrives while the server is down (haproxy has taken
        the nodes out): the nodes find out both ways by themselves."""
        c = self.cluster(template(), n=2, pg=self.pg)
        self.pg.stop()
        wait_for(lambda: all(status(n.admin_port, "/readyz") == 503 for n in c.nodes),
                 timeout=10, what="/readyz 503 with no traffic")
        self.pg.start()
        for i in range(len(c.nodes)):
            c.wait_ready(i, timeout=30)
        r = c.post(PATH, ctct_body("tier.increase", account="after"))
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: r.json()["id"] in self.delivered(c), what="delivered after the outage")

    def test_terminated_connections_reconnect(self):
        c = self.cluster(template(), n=2, pg=self.pg)
        for n in c.nodes:
            self.assertEqual(n.post(PATH, ctct_body("tier.increase", account="before")).status,
                             200)
        killed = self.pg.query("postgres", "SELECT count(pg_terminate_backend(pid))"
                               " FROM pg_stat_activity WHERE datname = 'hookd'"
                               " AND pid <> pg_backend_pid()")
        self.assertGreaterEqual(int(killed[0][0]), 2, "each node's connection was cut")
        # The next request to each node is answered 200: a node whose
        # connection was cut connects again and sends its batch once more.
        ids = []
        for i, n in enumerate(c.nodes):
            r = n.post(PATH, ctct_body("tier.increase", account=f"cut-{i}"))
            self.assertEqual(r.status, 200, r)
            ids.append(r.json()["id"])
        wait_for(lambda: set(ids) <= self.delivered(c), what="delivered after reconnecting")
        for n in c.nodes:
            self.assertTrue(n.ready())
