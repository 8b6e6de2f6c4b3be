"""`hookd spool copy --to postgres:CONNINFO` (docs/cluster.md, "Moving a
single node into a cluster"): a single node on its SQLite spool delivers to
a file, dead-letters what a failing plugin refuses and holds deliveries a
slow plugin never finishes; the copy (while it runs, then again once it is
stopped) puts every event, delivery, attempt and dedup key into a throwaway
PostgreSQL, twice storing nothing twice; a cluster node started on that
database then delivers the pending ones and leaves the delivered and the
dead ones as they are. Also the usage errors, and the conninfo's password
never printed."""
import json
import os
import sqlite3
import textwrap
import unittest

import pgcluster
from cluster import Cluster, available as cluster_available, node_config
from harness import base_config, read_lines
from test_spool import GOOD, SPOOL, SpoolCase, ctct_source, event_body, instance, route



# audit: the file plugin; broken: fails at once (a dead letter); later: takes
# a minute (the node is stopped before, so its deliveries stay pending).
def words(path):
    try:
        with open(path) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


DEDUP = '{ key: "header:X-Id", window: 1h }'


def single_config(d, later_file):
    plugins = (instance("audit", "file", {"path": os.path.join(d, "events.jsonl")}) +
               instance("broken", GOOD, {"result": "fail"}) +
               instance("later", GOOD, {"result": "ok", "sleep_ms": 60000,
                                        "count_file": later_file}, timeout="2m"))
    return base_config(d, sources=ctct_source(DEDUP),
                       plugins=plugins, routes=route("tier.*", "audit", "later") +
                       route("account.*", "broken"),
                       top=SPOOL + "dispatch: { workers: 8 }\n")


# The cluster node: the same instance names, "later" now quick.
CLUSTER_PLUGINS = textwrap.dedent(f"""\
  - name: audit
    use: file
    config: {{ path: "@DIR@/events.jsonl" }}
  - name: broken
    use: {GOOD}
    config: {{ result: fail }}
  - name: later
    use: {GOOD}
    config: {{ result: ok, count_file: "@DIR@/later.txt" }}
""")
CLUSTER_SPOOL = "spool: { driver: postgres, conninfo: @CONNINFO@, node: n@INDEX@, lease: 5s }\n"


class SpoolCopy(pgcluster.WithPostgres, SpoolCase):
    def copy(self, *args, code=0):
        r = self.run_cli("spool", "copy", "-c", "hookd.yaml", *args)
        out, err = r.stdout.decode(), r.stderr.decode()
        self.assertEqual(r.returncode, code, f"exit {r.returncode}: {out}{err}")
        self.assertNotIn("s3cret", out + err, "the conninfo's password was printed")
        return out, err

    def test_node_into_cluster(self):
        later = os.path.join(self.dir, "later.txt")
        h = self.hookd(single_config(self.dir, later))
        tier = [self.post_ok(h, event_body("tier.increase", f"t{i}"), headers={"X-Id": f"t{i}"})
                for i in range(3)]
        dead = [self.post_ok(h, event_body("account.cancel", f"a{i}"), headers={"X-Id": f"a{i}"})
                for i in range(2)]
        self.poll(lambda: len(self.dead_list()) == 2, 20, "two dead letters")
        self.poll(lambda: len(read_lines(self.events)) == 3, 20, "audit's three deliveries")
        self.poll(lambda: len(words(later)) == 3, 20, "the three slow deliveries running")
        to = "--to=postgres:" + self.pg.conninfo()

        # While the node runs: a second, read-only connection to its spool.
        out, _ = self.copy(to)
        self.assertEqual(out, "copied 5 events, 8 deliveries (3 pending, 2 dead), 5 attempts;"
                              " skipped 0 already present\n")
        # The node is stopped (its slow deliveries never finished): again.
        h.kill()
        out, _ = self.copy(to, "--json", "--batch", "2")
        summary = json.loads(out)
        self.assertEqual({k: v for k, v in summary.items() if k != "to"},
                         {"events": 0, "deliveries": 0, "pending": 0, "delivered": 0, "dead": 0,
                          "attempts": 0, "dedup_keys": 0, "skipped": 5})
        self.assertEqual(summary["to"], "PostgreSQL hookd on 127.0.0.1")
        self.assertEqual(self.q("SELECT count(*) FROM hookd_events"), [("5",)])
        self.assertEqual(self.q("SELECT state, count(*) FROM hookd_deliveries"
                                " GROUP BY state ORDER BY state"),
                         [("dead", "2"), ("delivered", "3"), ("pending", "3")])
        self.assertEqual(self.q("SELECT count(*) FROM hookd_deliveries WHERE claim IS NOT NULL"
                                " OR lease_until IS NOT NULL OR node IS NOT NULL"), [("0",)])
        with sqlite3.connect(f"file:{self.dir}/spool.db?mode=ro", uri=True) as db:
            keys = db.execute("SELECT source, key, event, at FROM dedup ORDER BY key").fetchall()
        self.assertEqual(len(keys), 5)
        self.assertEqual(self.q("SELECT source, key, event, at FROM hookd_dedup ORDER BY key"),
                         [tuple(str(v) for v in k) for k in keys])

        # A cluster node on that database: the pending ones delivered, once;
        # the delivered ones not again; the dead letters stay, listed by SQL.
        why = cluster_available()
        if why:
            self.skipTest(why)
        c = Cluster(node_config(spool=CLUSTER_SPOOL, sources=ctct_source(DEDUP),
                                plugins=CLUSTER_PLUGINS,
                                routes=route("tier.*", "audit", "later") +
                                route("account.*", "broken")), n=1, pg=self.pg)
        self.addCleanup(lambda: self.assertEqual(c.cleanup(), []))
        c.start()
        node = c.node(0)
        node_later = os.path.join(node.dir, "later.txt")
        self.poll(lambda: self.q("SELECT count(*) FROM hookd_deliveries WHERE state = 'pending'")
                  == [("0",)], 20, "the copied pending deliveries delivered")
        self.assertEqual(sorted(words(node_later)), sorted(tier))
        self.assertEqual(node.event_ids(), [], "audit's delivered rows ran again")
        self.assertEqual(self.q("SELECT e.id, d.attempts, d.reason FROM hookd_deliveries d"
                                " JOIN hookd_events e ON e.seq = d.event"
                                " WHERE d.state = 'dead' ORDER BY e.seq"),
                         [(eid, "1", "good: fail on purpose") for eid in dead])
        # later's attempts: none before (the node died mid-way), one now, by n0.
        self.assertEqual(self.q("SELECT a.n, a.result, a.node FROM hookd_attempts a"
                                " JOIN hookd_deliveries d ON d.id = a.delivery"
                                " WHERE d.plugin = 'later'"), [("1", "ok", "n0")] * 3)
        # The copied dedup key holds on the cluster: the same X-Id is a duplicate.
        r = node.post("/webhooks/ctct", event_body("tier.increase", "t0"), headers={"X-Id": "t0"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["id"], tier[0])
        self.assertTrue(r.json().get("duplicate"), r.json())

    def test_usage_and_failures(self):
        with open(os.path.join(self.dir, "hookd.yaml"), "w") as f:
            f.write(base_config(self.dir, top=SPOOL))
        for args, says in (
                ((), "hookd spool: copy needs --to postgres:CONNINFO"),
                (("--to", "mysql:host=x"), "--to takes postgres:CONNINFO"),
                (("--to", "postgres:password=s3cret pw"), "libpq cannot parse"),
                (("--to", "postgres:", "--batch", "0"), "--batch wants a number")):
            _, err = self.copy(*args, code=2)
            self.assertIn(says, err)
            self.assertEqual(err.count("\n"), 1, err)
        r = self.run_cli("spool", "frob")
        self.assertEqual(r.returncode, 2)
        self.assertIn('unknown sub-command "frob"', r.stderr.decode())
        r = self.run_cli("spool", "--to", "postgres:")
        self.assertEqual(r.returncode, 2)
        # Runtime failures: exit 1, one line.
        _, err = self.copy("--to", "postgres:" + self.pg.conninfo(), code=1)
        self.assertEqual(err, f"hookd: no spool at spool.db\n")
        _, err = self.copy("--spool", os.path.join(self.dir, "none.db"), "--to",
                           "postgres:" + self.pg.conninfo(), code=1)
        self.assertIn("hookd: no spool at", err)
        h = self.hookd(base_config(self.dir, top=SPOOL))
        h.stop()
        # Empty after postgres: everything from libpq's environment.
        env = {"PGHOST": "127.0.0.1", "PGPORT": str(self.pg.port), "PGUSER": self.pg.user,
               "PGPASSWORD": self.pg.password, "PGDATABASE": self.pg.dbname}
        r = self.run_cli("spool", "copy", "-c", "hookd.yaml", "--to", "postgres:", env=env)
        self.assertEqual((r.returncode, r.stdout.decode()),
                         (0, "copied 0 events, 0 deliveries (0 pending, 0 dead), 0 attempts;"
                             " skipped 0 already present\n"), r.stderr)
        _, err = self.copy("--to", "postgres:" + self.pg.conninfo(password="s3cret-wrong"),
                           code=1)
        self.assertRegex(err, r"^hookd: cannot connect to PostgreSQL: .*password authentication"
                              r" failed[^\n]*\n$")
        # A cluster's configuration names no SQLite spool: --spool is needed.
        with open(os.path.join(self.dir, "pg.yaml"), "w") as f:
            f.write(base_config(self.dir, top="spool: { driver: postgres, conninfo: \"x\" }\n"))
        r = self.run_cli("spool", "copy", "-c", "pg.yaml", "--to", "postgres:")
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("--spool PATH", r.stderr.decode())


if __name__ == "__main__":
    unittest.main()
