"""The database plugin against real databases: an SQLite file and a
throwaway PostgreSQL cluster (pgcluster.py). The same behaviour runs on both
drivers: the ctct-accounts tables (rows, idempotence, out-of-order events,
other event types), user statements with bound :name parameters, start-up
errors caught by `hookd check`, constraint violations dead-lettered. On
PostgreSQL also: the server stopping mid-run gives RETRY, and the events land
once it is back; a server down at start-up does not stop hookd, and the
tables are created once it is up."""
import json
import os
import sqlite3
import subprocess
import time
import unittest

import pgcluster
from harness import HOOKD, PLUGIN_DIR, HookdCase, base_config, wait_for

SPOOL = "spool: { path: spool.db, sync: normal }\n"
PLUGIN = os.path.join(PLUGIN_DIR, "database.so")
PG_PASSWORD = "Pg-pa55word-x9Zq"     # reaches hookd through ${ENV} only
PG_PASSWORD_ENV = "HOOKD_TEST_PG_PASSWORD"
FAST_RETRY = "{ attempts: 3, backoff: 100ms, max_backoff: 200ms }"
NASTY = "it's \"quoted\" '); DROP TABLE t; -- ünïcode \\ :type ?"


def body(event_type, account=None, **extra):
    """A notification; with account, a Constant Contact plan url."""
    d = {"event_type": event_type}
    if account:
        d["url"] = f"https://api.constantcontact.com/v2/partner/accounts/{account}/plan"
    d.update(extra)
    return json.dumps(d, separators=(",", ":")).encode()


def instance(config, retry=FAST_RETRY, name="db"):
    return (f"- name: {name}\n  use: database\n  retry: {retry}\n  timeout: 5s\n"
            f"  config: {json.dumps(config)}\n")


ROUTE = '  - { match: "*", to: [db] }\n'


class Behaviour:
    """The tests both drivers pass. A subclass supplies target() (the
    driver's config keys), rows(sql), ddl(sql) and a few driver facts."""

    cast_text = None            # expr -> a cast to text in the driver's SQL
    constraint_mark = None      # in the reason of a unique violation
    syntax_mark = "syntax error"
    native_placeholder = None   # refused in statements

    # ---- plumbing ----

    def setUp(self):
        super().setUp()
        if not os.path.exists(PLUGIN):
            self.skipTest(f"{PLUGIN} not built")

    def config(self, retry=FAST_RETRY, **plugin_keys):
        cfg = dict(self.target(), **plugin_keys)
        return base_config(self.dir, plugins=instance(cfg, retry), routes=ROUTE, top=SPOOL)

    def start(self, retry=FAST_RETRY, **plugin_keys):
        return self.hookd(self.config(retry, **plugin_keys))

    def post(self, h, data):
        r = h.post(data)
        self.assertEqual(r.status, 200, r)
        return r.json()["id"]

    def cli_json(self, *args):
        r = self.run_cli("-c", "hookd.yaml", *args, "--json")
        self.assertEqual(r.returncode, 0, f"hookd {' '.join(args)}: {r.stderr.decode()}")
        return json.loads(r.stdout)

    def delivery(self, eid):
        [d] = [d for d in self.cli_json("events", "show", eid)["deliveries"]
               if d["plugin"] == "db"]
        return d

    def wait_delivery(self, eid, pred, what, timeout=20):
        last = {}

        def check():
            last["d"] = self.delivery(eid)
            return last["d"] if pred(last["d"]) else None
        try:
            return wait_for(check, timeout, what, 0.1)
        except AssertionError as e:
            raise AssertionError(f"{e}; last seen: {last.get('d')}; log:\n" +
                                 self.procs[-1].run_log()[-3000:]) from None

    def delivered(self, eid, attempts=1):
        return self.wait_delivery(
            eid, lambda d: d["state"] == "delivered" and d["attempts"] == attempts,
            f"{eid} delivered after {attempts} attempt(s)")

    def check_config(self, expect_rc, *expect, **plugin_keys):
        with open(os.path.join(self.dir, "check.yaml"), "w") as f:
            f.write(self.config(**plugin_keys))
        r = self.run_cli("check", "-c", "check.yaml")
        out = r.stdout.decode() + r.stderr.decode()
        self.assertEqual(r.returncode, expect_rc, out)
        for e in expect:
            self.assertIn(e, out)
        self.assertNotIn(PG_PASSWORD, out)
        return out

    def accounts(self):
        return self.rows("SELECT account_id, status, last_event_type, last_event_id, plan_type,"
                         " billing_status FROM ctct_accounts ORDER BY account_id")

    def snapshot(self):
        """Every column of both tables (updated_at included)."""
        return (self.rows("SELECT id, source, type, account_id, received_at FROM hookd_events"
                          " ORDER BY id"),
                self.rows("SELECT * FROM ctct_accounts ORDER BY account_id"))

    # ---- ctct-accounts ----

    def test_ctct_accounts_rows(self):
        h = self.start()
        sent = [("tier.increase", "acctA"), ("account.cancel", "acctB"),
                ("account.disable", "acctC"), ("tier.increase", "acctD"),
                ("tier.decrease", "acctA")]
        ids = [self.post(h, body(t, a, extra="x" * i)) for i, (t, a) in enumerate(sent)]
        for eid in ids:
            self.delivered(eid)
        self.assertEqual(
            self.rows("SELECT id, source, type, account_id FROM hookd_events ORDER BY id"),
            sorted((eid, "constantcontact", t, a) for eid, (t, a) in zip(ids, sent)))
        [(stored, at)] = self.rows(f"SELECT body, received_at FROM hookd_events "
                                   f"WHERE id = '{ids[1]}'")
        self.assertEqual(json.loads(stored), json.loads(body("account.cancel", "acctB", extra="x")))
        self.assertTrue(at)
        self.assertEqual(self.accounts(), [
            ("acctA", "active", "tier.decrease", ids[4], None, None),
            ("acctB", "cancelled", "account.cancel", ids[1], None, None),
            ("acctC", "disabled", "account.disable", ids[2], None, None),
            ("acctD", "active", "tier.increase", ids[3], None, None),
        ])

    def test_same_event_twice_changes_nothing(self):
        h = self.start()
        eid = self.post(h, body("account.cancel", "acctR"))
        self.delivered(eid)
        before = self.snapshot()
        self.assertEqual(len(before[0]), 1)
        self.assertEqual(len(before[1]), 1)
        time.sleep(0.05)   # a rewritten updated_at would differ
        self.assertEqual(self.cli_json("replay", eid), {"replayed": 1})
        self.delivered(eid, attempts=2)
        self.assertEqual(self.snapshot(), before)

    def test_older_event_never_overwrites_newer(self):
        h = self.start()
        a = self.post(h, body("tier.increase", "acctO"))
        self.delivered(a)
        self.assertEqual(self.accounts(), [("acctO", "active", "tier.increase", a, None, None)])
        b = self.post(h, body("account.cancel", "acctO"))
        self.delivered(b)
        newest = [("acctO", "cancelled", "account.cancel", b, None, None)]
        self.assertEqual(self.accounts(), newest)
        before = self.snapshot()
        # a arrives again, after b: older by received_at, it must lose.
        self.assertEqual(self.cli_json("replay", a), {"replayed": 1})
        self.delivered(a, attempts=2)
        self.assertEqual(self.accounts(), newest)
        self.assertEqual(self.snapshot(), before)

    def test_other_types_and_events_without_account_keep_their_row(self):
        h = self.start()
        other = self.post(h, body("contact.update", "acctU"))
        bare = self.post(h, body("tier.increase"))   # no Constant Contact url
        self.delivered(other)
        self.delivered(bare)
        self.assertEqual(self.rows("SELECT id, type, account_id FROM hookd_events ORDER BY id"),
                         [(other, "contact.update", "acctU"), (bare, "tier.increase", None)])
        self.assertEqual(self.accounts(), [], "no account state from an unknown type or no id")

    # ---- sql ----

    def test_sql_binds_named_parameters(self):
        self.ddl("CREATE TABLE t (id text PRIMARY KEY, type text, account text, note text,"
                 " lit text, attempt text);"
                 "CREATE TABLE seen (event_id text, type1 text, type2 text);")
        statements = [
            "INSERT INTO t (id, type, account, note, lit, attempt)\n"
            "  VALUES (:id, :type, :ctct.account_id, :json./note, 'lit :type ''q''', "
            f"{self.cast_text(':attempt')}) -- not :a_param\n"
            "  ON CONFLICT DO NOTHING",
            "/* :nor_this */ INSERT INTO seen (event_id, type1, type2) VALUES (:id, :type, :type);",
        ]
        h = self.start(mode="sql", statements=statements)
        eid = self.post(h, body("tier.increase", "acctS", note=NASTY))
        self.delivered(eid)
        self.assertEqual(self.rows("SELECT id, type, account, note, lit, attempt FROM t"),
                         [(eid, "tier.increase", "acctS", NASTY, "lit :type 'q'", "1")])
        self.assertEqual(self.rows("SELECT event_id, type1, type2 FROM seen"),
                         [(eid, "tier.increase", "tier.increase")])

    def test_sql_constraint_violation_fails_the_whole_event(self):
        self.ddl("CREATE TABLE t (id text PRIMARY KEY, account text);"
                 "CREATE TABLE u (account text UNIQUE);")
        statements = ["INSERT INTO t (id, account) VALUES (:id, :ctct.account_id)",
                      "INSERT INTO u (account) VALUES (:ctct.account_id)"]
        h = self.start(mode="sql", statements=statements)
        first = self.post(h, body("tier.increase", "acctX"))
        self.delivered(first)
        second = self.post(h, body("tier.decrease", "acctX"))
        d = self.wait_delivery(second, lambda d: d["state"] == "dead", "dead letter")
        self.assertEqual(d["attempts"], 1, "a constraint violation is not retried")
        [dead] = self.cli_json("dead")
        self.assertEqual(dead["event"], second)
        self.assertIn("statements[1]", dead["reason"])
        self.assertIn(self.constraint_mark, dead["reason"])
        self.assertNotIn("\n", dead["reason"])
        self.assertEqual(self.rows("SELECT id FROM t"), [(first,)],
                         "the first statement was rolled back with the second")

    def test_check_refuses_bad_statements(self):
        self.ddl("CREATE TABLE t (id text PRIMARY KEY, type text);")
        good = ["INSERT INTO t (id, type) VALUES (:id, :type)"]
        self.check_config(0, "configuration", mode="sql", statements=good)
        self.check_config(2, "statements[0]", self.syntax_mark, mode="sql",
                          statements=["INSRT INTO t (id) VALUES (:id)"])
        self.check_config(2, "statements[1]", "missing_table", mode="sql",
                          statements=good + ["INSERT INTO missing_table VALUES (:id)"])
        self.check_config(2, "statements[0]", ":nope", 'unknown template name "nope"',
                          mode="sql", statements=["INSERT INTO t (id) VALUES (:nope)"])
        self.check_config(2, "statements[0]", "write parameters as :name", mode="sql",
                          statements=[f"INSERT INTO t (id) VALUES ({self.native_placeholder})"])
        self.check_config(2, 'unknown key "table"', table="t")
        self.check_config(2, 'mode: sql needs "statements"', mode="sql")
        self.check_config(2, "statements: only with mode: sql", statements=good)
        # The typo is caught by `hookd run` too, before it listens.
        with open(os.path.join(self.dir, "bad.yaml"), "w") as f:
            f.write(self.config(mode="sql", statements=["INSRT INTO t (id) VALUES (:id)"]))
        p = subprocess.run([HOOKD, "run", "-c", "bad.yaml"], cwd=self.dir, capture_output=True,
                           timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr.decode())
        self.assertIn("statements[0]", p.stderr.decode())


class SqliteDatabase(Behaviour, HookdCase):
    native_placeholder = "?"
    constraint_mark = "SQLITE_CONSTRAINT"

    @staticmethod
    def cast_text(expr):
        return f"CAST({expr} AS TEXT)"

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.dir, "hookd.sqlite")

    def target(self):
        return {"driver": "sqlite", "path": self.path}

    def rows(self, sql):
        db = sqlite3.connect(self.path, timeout=10)
        try:
            return [tuple(None if v is None else str(v) for v in r) for r in db.execute(sql)]
        finally:
            db.close()

    def ddl(self, sql):
        db = sqlite3.connect(self.path, timeout=10)
        try:
            db.executescript(sql)
        finally:
            db.close()

    def test_sqlite_default_driver_and_bad_path(self):
        cfg = base_config(self.dir, plugins=instance({"path": self.path}), routes=ROUTE, top=SPOOL)
        with open(os.path.join(self.dir, "default.yaml"), "w") as f:
            f.write(cfg)
        r = self.run_cli("check", "-c", "default.yaml")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(self.rows("SELECT count(*) FROM ctct_accounts"), [("0",)],
                         "sqlite is the default driver; the tables exist from start-up")
        self.check_config(2, "sqlite", "SQLITE_CANTOPEN",
                          path=os.path.join(self.dir, "no", "such", "dir", "x.db"))
        self.check_config(2, "conninfo: only with driver: postgres", conninfo="host=x")


class PostgresDatabase(Behaviour, HookdCase):
    native_placeholder = "$1"
    constraint_mark = "SQLSTATE 23505"
    cluster = None
    serial = 0

    @staticmethod
    def cast_text(expr):
        return f"{expr}::text"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(PLUGIN):
            raise unittest.SkipTest(f"{PLUGIN} not built")
        why = pgcluster.available()
        if why:
            raise unittest.SkipTest(why)
        cls.cluster = pgcluster.PgCluster(password=PG_PASSWORD).start()
        os.environ[PG_PASSWORD_ENV] = PG_PASSWORD   # for hookd and its CLI alike

    @classmethod
    def tearDownClass(cls):
        if cls.cluster:
            cls.cluster.destroy()
        os.environ.pop(PG_PASSWORD_ENV, None)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        type(self).serial += 1
        self.db = self.cluster.create_database(f"hookd_t{self.serial}")

    def tearDown(self):
        try:
            for h in self.procs:   # before the folder goes
                self.assertNotIn(PG_PASSWORD, h.log_text(), "the password was logged")
        finally:
            try:
                super().tearDown()
            finally:
                if not self.cluster.running:   # a test stopped it
                    self.cluster.start()

    def target(self):
        pg = self.cluster
        return {"driver": "postgres",
                "conninfo": f"host=127.0.0.1 port={pg.port} dbname={self.db} user={pg.user} "
                            f"password=${{{PG_PASSWORD_ENV}}}"}

    def rows(self, sql):
        return self.cluster.query(self.db, sql)

    def ddl(self, sql):
        self.cluster.sql(self.db, sql, as_owner=True)

    def test_postgres_wrong_password_and_logs(self):
        h = self.start()
        self.assertIn(f"postgres host=127.0.0.1 port={self.cluster.port} dbname={self.db}",
                      h.run_log(), "start-up names the server, not the password")
        bad = dict(self.target())
        bad["conninfo"] = bad["conninfo"].replace(f"${{{PG_PASSWORD_ENV}}}", "wrong-" + "pw")
        self.check_config(2, "password authentication failed", **bad)

    def test_postgres_down_at_start_spools_then_delivers(self):
        self.cluster.stop()
        out = self.check_config(0, "not reachable at start-up")
        self.assertNotIn("password authentication", out)
        h = self.start(retry="{ attempts: 200, backoff: 200ms, max_backoff: 400ms }")
        self.assertIn("not reachable at start-up, deliveries retry until it is", h.run_log())
        eids = [self.post(h, body("tier.increase", "acctS")),
                self.post(h, body("account.disable", "acctT"))]
        # More deliveries than one, so that several race to create the tables.
        eids += [self.post(h, body("contact.update", n=i)) for i in range(4)]
        for eid in eids:
            self.wait_delivery(eid, lambda d: d["state"] == "pending" and d["attempts"] >= 2,
                               "retries while PostgreSQL is down")
        self.cluster.start()
        for eid in eids:
            self.wait_delivery(eid, lambda d: d["state"] == "delivered", "delivered once up")
        # The first connection created the ctct-accounts tables.
        self.assertEqual(self.rows("SELECT id FROM hookd_events ORDER BY id"),
                         sorted((e,) for e in eids))
        self.assertEqual(self.accounts(), [
            ("acctS", "active", "tier.increase", eids[0], None, None),
            ("acctT", "disabled", "account.disable", eids[1], None, None)])
        self.assertIn("reachable again", h.run_log())

    def test_postgres_stopped_mid_run_retries_then_lands(self):
        h = self.start(retry="{ attempts: 200, backoff: 200ms, max_backoff: 400ms }")
        first = self.post(h, body("tier.increase", "acctP"))
        self.delivered(first)
        self.cluster.stop()
        later = [self.post(h, body("account.cancel", "acctP")),
                 self.post(h, body("tier.increase", "acctQ"))]
        for eid in later:
            d = self.wait_delivery(eid, lambda d: d["state"] == "pending" and d["attempts"] >= 2,
                                   "retries while PostgreSQL is down")
            self.assertEqual({a["result"] for a in d["history"]}, {"retry"}, d)
            self.assertTrue(d["reason"], d)
        self.cluster.start()
        for eid in later:
            self.wait_delivery(eid, lambda d: d["state"] == "delivered", "delivered once back")
        self.assertEqual(self.rows("SELECT id FROM hookd_events ORDER BY id"),
                         sorted((e,) for e in [first] + later))
        self.assertEqual(self.accounts(), [
            ("acctP", "cancelled", "account.cancel", later[0], None, None),
            ("acctQ", "active", "tier.increase", later[1], None, None)])


if __name__ == "__main__":
    unittest.main()
