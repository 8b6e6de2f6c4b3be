"""The console's API over the spool (docs/console.md): events paged with
cursors and filtered, one event with its deliveries and attempts, dead
letters, both replays reaching the plugin again, the stats; credentials and
signatures masked in every answer; and the same API on a cluster node,
where it reads the shared PostgreSQL spool."""
import json
import os
import textwrap
import unittest

import pgcluster
from cluster import ClusterCase, node_config
from harness import (PASSWORD, SECRET, USER, HookdCase, base_config, basic, ctct_body,
                     ctct_sig, read_lines, wait_for)
from test_console_api import admin_port, req

TOKEN = "console-spool-token-5c1e9d0a"


class ConsoleSpool(HookdCase):
    def setUp(self):
        super().setUp()
        self.ran = os.path.join(self.dir, "flaky-ran")
        self.okfile = os.path.join(self.dir, "downstream-up")
        plugins = textwrap.dedent(f"""\
          - name: audit
            use: file
            config: {{ path: {self.events} }}
          - name: flaky
            use: exec
            config: {{ command: ["/bin/sh", "-c", "echo x >> {self.ran}; test -e {self.okfile}"] }}
          - name: idle
            use: file
            config: {{ path: {self.dir}/idle.jsonl }}
        """)
        routes = ('  - { match: "tier.*", to: [audit] }\n'
                  '  - { match: "flaky.*", to: [flaky] }\n')
        top = (f'admin: {{ listen: "127.0.0.1:0", token: "{TOKEN}" }}\n'
               'spool: { path: spool.db, sync: normal }\n')
        self.h = self.hookd(base_config(self.dir, plugins=plugins, routes=routes, top=top))
        self.port = admin_port(self.h)
        self.answers = []  # every API answer's body, for the masking check

    def runs(self):
        """How often the flaky plugin's command ran."""
        with open(self.ran) as f:
            return len(f.read().split())

    def api(self, path, body=None, status=200):
        r = req(self.port, "/api/v1/" + path, method="POST" if body is not None else "GET",
                token=TOKEN, body=json.dumps(body).encode() if body is not None else b"",
                headers={"Content-Type": "application/json"} if body is not None else None)
        self.answers.append(r.body)
        self.assertEqual(r.status, status, r.body)
        return json.loads(r.body)

    def post(self, event_type, account):
        body = ctct_body(event_type, account=account)
        r = self.h.post(body)
        self.assertEqual(r.status, 200, r)
        self.sigs.append(ctct_sig(body))
        return r.json()["id"]

    def test_events_paged_filtered_and_masked(self):
        self.sigs = []
        ids = [self.post("tier.increase" if i % 2 else "tier.decrease", f"acct{i}")
               for i in range(7)]
        # Delivered, and the results committed (they follow the plugin's write).
        wait_for(lambda: [e["status"] for e in self.api("events")["events"]] == ["delivered"] * 7,
                 what="7 deliveries recorded")
        # Pages of 3, newest first, the cursor to the end.
        seen, cursor = [], None
        while True:
            page = self.api("events?limit=3" + (f"&cursor={cursor}" if cursor else ""))
            self.assertLessEqual(len(page["events"]), 3)
            seen += [e["id"] for e in page["events"]]
            cursor = page["next"]
            if not cursor:
                break
        self.assertEqual(seen, ids[::-1])
        first = self.api("events")["events"][0]
        self.assertEqual((first["status"], first["deliveries"]),
                         ("delivered", {"pending": 0, "delivered": 1, "dead": 0}))
        inc = self.api("events?type=tier.increase&since=1h")["events"]
        self.assertEqual([e["id"] for e in inc], [ids[5], ids[3], ids[1]])
        self.assertEqual(len(self.api("events?type=tier.*&source=constantcontact")["events"]), 7)
        self.assertEqual(self.api("events?source=nobody")["events"], [])
        self.assertEqual(len(self.api("events?limit=100000")["events"]), 7)  # clamped, not refused
        for bad in ("limit=abc", "since=5", "status=maybe", "cursor=x1"):
            self.assertIn("error", self.api("events?" + bad, status=400))
        self.api("events/01ARZ3NDEKTSV4RRFFQ69G5FAV", status=404)
        self.api("events/not-an-id", status=404)
        ev = self.api("events/" + ids[0])
        self.assertEqual(ev["headers"].get("x-ctct-hmac-sha256"), "[masked]")
        self.assertEqual(ev["deliveries"][0]["history"][0]["result"], "ok")
        # No credential or signature anywhere in what the API said.
        everything = b"".join(self.answers).decode()
        self.assertNotIn(PASSWORD, everything)
        self.assertNotIn(basic().split()[-1], everything)
        for sig in self.sigs:
            self.assertNotIn(sig, everything)
        self.assertNotIn(SECRET, everything)

    def test_dead_letters_replayed(self):
        self.sigs = []
        dead = [self.post("flaky.run", f"f{i}") for i in range(3)]
        ok = self.post("tier.increase", "fine")
        def settled():
            st = self.api("stats")
            return st["dead"] == 3 and st["pending"] == 0
        wait_for(settled, what="3 dead letters and the rest recorded")
        rows = self.api("dead?plugin=flaky")["dead"]
        self.assertEqual(sorted(r["event"] for r in rows), sorted(dead))
        self.assertEqual(self.api("dead?plugin=audit")["dead"], [])
        self.assertEqual(len(self.api("dead?limit=2")["dead"]), 2)
        stats = self.api("stats")
        self.assertEqual((stats["dead"], stats["pending"], stats["driver"]), (3, 0, "sqlite"))
        plugins = {p["name"]: p for p in stats["plugins"]}
        self.assertEqual(set(plugins), {"audit", "flaky", "idle"})  # every configured instance
        self.assertEqual(plugins["flaky"]["dead"], 3)
        self.assertEqual(plugins["audit"]["delivered"], 1)
        self.assertEqual(plugins["idle"], {"name": "idle", "plugin": "file", "delivered": 0,
                                           "pending": 0, "dead": 0, "ok_1h": 0, "failed_1h": 0})
        self.assertEqual(len(stats["per_minute"]["counts"]), 60)
        self.assertEqual(sum(stats["per_minute"]["counts"]), 4)
        self.assertEqual(stats["received"], 4)

        open(self.okfile, "w").close()
        # One selected dead letter, then every one the filter matches.
        self.assertEqual(self.api("dead/replay", {"deliveries": [rows[0]["delivery"]]}),
                         {"replayed": 1})
        wait_for(lambda: len(self.api("dead")["dead"]) == 2 and
                 self.runs() == 4, what="the selected one ran again")
        self.assertEqual(self.api("dead/replay", {"deliveries": []}), {"replayed": 0})
        self.assertEqual(self.api("dead/replay", {"plugin": "flaky"}), {"replayed": 2})
        wait_for(lambda: self.api("stats")["dead"] == 0 and
                 self.runs() == 6, what="the rest ran again")
        self.api("dead/replay", {"deliveries": "all"}, status=400)
        # An event again, to one instance only.
        self.assertEqual(self.api(f"events/{ok}/replay", {"plugins": ["audit"]}),
                         {"replayed": 1})
        wait_for(lambda: [e["id"] for e in read_lines(self.events)].count(ok) == 2,
                 what="the event delivered again")
        self.assertEqual(self.api(f"events/{ok}/replay", {"plugins": ["idle"]}),
                         {"replayed": 0})
        self.api("events/01ARZ3NDEKTSV4RRFFQ69G5FAV/replay", {}, status=404)


SPOOL_PG = "spool: { driver: postgres, conninfo: @CONNINFO@, node: n@INDEX@, lease: 5s }\n"


class ConsoleOnCluster(pgcluster.WithPostgres, ClusterCase):
    def test_any_node_shows_the_cluster(self):
        c = self.cluster(node_config(spool=SPOOL_PG), n=2, pg=self.pg)
        ids = []
        for i in range(6):
            r = c.post("/webhooks/ctct", ctct_body("tier.increase", account=f"c{i}"))
            self.assertEqual(r.status, 200, r)
            ids.append(r.json()["id"])
        for n in c.nodes:  # no token, loopback: served
            r = req(n.admin_port, "/api/v1/events?limit=50")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual({e["id"] for e in json.loads(r.body)["events"]}, set(ids))
            r = req(n.admin_port, "/api/v1/events/" + ids[0])
            self.assertEqual(json.loads(r.body)["id"], ids[0])
            stats = json.loads(req(n.admin_port, "/api/v1/stats").body)
            self.assertEqual((stats["driver"], stats["node"]), ("postgres", f"n{n.index}"))
            self.assertEqual(sum(stats["per_minute"]["counts"]), 6)
