"""The spool's operations against a running or stopped daemon: dead letters
and replay (`hookd dead`, `hookd replay`), retention purging delivered events
while keeping dead letters, and the inspection commands (`hookd events`,
`events show`). Helpers and SpoolCase come from test_spool."""
import os
import time
import unittest

from harness import base_config
from test_spool import (GOOD, ISO, SPOOL, SpoolCase, count_lines, event_body, file_ids, instance,
                        route)


# ---- 1. dead letters and replay ----------------------------------------------

class DeadLetters(SpoolCase):
    def config(self, result, count_file):
        plugins = (instance("hook", GOOD, {"result": result, "count_file": count_file},
                            retry="{ attempts: 2, backoff: 100ms, max_backoff: 200ms }") +
                   instance("audit", "file", {"path": self.events}))
        return base_config(self.dir, plugins=plugins, routes=route("*", "hook", "audit"),
                           top=SPOOL)

    def setUp(self):
        super().setUp()
        self.failed = os.path.join(self.dir, "failed.txt")
        self.ok = os.path.join(self.dir, "ok.txt")

    def wait_dead(self, n):
        return self.poll(lambda: (lambda d: d if len(d) == n else None)(self.dead_list()),
                         20, f"{n} dead letters")

    def test_dead_then_replayed_after_fix(self):
        h = self.hookd(self.config("fail", self.failed))
        eid = self.post_ok(h, event_body("account.cancel", "dead1"))
        [d] = self.wait_dead(1)
        self.assertEqual(d["event"], eid)
        self.assertEqual(d["plugin"], "hook")
        self.assertEqual(d["source"], "constantcontact")
        self.assertEqual(d["type"], "account.cancel")
        self.assertEqual(d["attempts"], 1, "FAIL is dead at once, no retry")
        self.assertEqual(d["reason"], "good: fail on purpose")
        self.assertRegex(d["at"], ISO)
        self.assertIsInstance(d["delivery"], (int, str))
        self.assertEqual(self.dead_list("--plugin", "audit"), [])
        self.assertEqual(len(self.dead_list("--plugin", "hook")), 1)
        self.wait_state(eid, "audit", "delivered")
        [ev] = self.cli_json("events")
        self.assertEqual(ev["deliveries"], {"pending": 0, "delivered": 1, "dead": 1})
        self.assertEqual(h.stop(), 0)

        # Fixed: same instance name, now succeeding. Dead stays dead on start.
        h.write_config(self.config("ok", self.ok))
        h.start()
        time.sleep(1)
        self.assertEqual(count_lines(self.ok), [])
        self.assertEqual(len(self.dead_list()), 1)
        self.assertEqual(self.cli_json("replay", "--dead"), {"replayed": 1})
        self.poll(lambda: eid in count_lines(self.ok), 15, "the replayed delivery")
        d = self.wait_state(eid, "hook", "delivered")
        self.assertEqual([a["result"] for a in d["history"]], ["fail", "ok"], d)
        self.assertEqual(d["attempts"], 2, d)
        self.assertEqual(self.dead_list(), [])
        # Only the dead delivery was replayed, not the one already delivered.
        time.sleep(0.5)
        self.assertEqual(file_ids(self.events), [eid])
        self.assertEqual(self.delivery(eid, "audit")["attempts"], 1)
        [ev] = self.cli_json("events")
        self.assertEqual(ev["deliveries"], {"pending": 0, "delivered": 2, "dead": 0})

    def test_retry_budget_then_dead(self):
        plugins = instance("hook", GOOD, {"result": "retry", "count_file": self.failed},
                           retry="{ attempts: 2, backoff: 100ms, max_backoff: 200ms }")
        h = self.hookd(base_config(self.dir, plugins=plugins, routes=route("*", "hook"),
                                   top=SPOOL))
        eid = self.post_ok(h, event_body("tier.increase", "dead2"))
        [d] = self.wait_dead(1)
        self.assertEqual((d["event"], d["attempts"], d["reason"]),
                         (eid, 2, "good: retry on purpose"))
        self.assertEqual(count_lines(self.failed), [eid, eid])

    def test_replay_while_stopped_runs_on_next_start(self):
        h = self.hookd(self.config("fail", self.failed))
        eid = self.post_ok(h, event_body("account.disable", "dead3"))
        self.wait_dead(1)
        self.assertEqual(h.stop(), 0)
        self.assertEqual(self.cli_json("replay", "--dead"), {"replayed": 1})
        self.assertEqual(self.dead_list(), [])
        h.write_config(self.config("ok", self.ok))
        h.start()
        self.poll(lambda: eid in count_lines(self.ok), 15, "the replayed delivery on start")
        self.wait_state(eid, "hook", "delivered")

    def test_replay_by_event_id_while_running(self):
        # One routed instance, so "replayed" is 1 whether it counts events or
        # deliveries.
        plugins = instance("hook", GOOD, {"result": "fail", "count_file": self.failed})
        h = self.hookd(base_config(self.dir, plugins=plugins, routes=route("*", "hook"),
                                   top=SPOOL))
        a = self.post_ok(h, event_body("tier.increase", "deadA"))
        b = self.post_ok(h, event_body("tier.increase", "deadB"))
        self.wait_dead(2)
        self.assertEqual(sorted(count_lines(self.failed)), sorted([a, b]))
        self.assertEqual(self.cli_json("replay", a), {"replayed": 1})
        # Picked up by the running daemon, within about a second.
        self.poll(lambda: count_lines(self.failed).count(a) == 2, 10, "the replay of a")
        d = self.poll(lambda: (lambda d: d if d["state"] == "dead" and d["attempts"] == 2 else None)(
            self.delivery(a, "hook")), 10, "a dead again after its second attempt")
        self.assertEqual([x["result"] for x in d["history"]], ["fail", "fail"])
        time.sleep(0.5)
        self.assertEqual(count_lines(self.failed).count(b), 1, "b was not replayed")
        self.assertEqual(self.delivery(b, "hook")["attempts"], 1)
        self.assertEqual(sorted(x["event"] for x in self.dead_list()), sorted([a, b]))

    def test_replay_delivered_event_delivers_again(self):
        h = self.hookd(base_config(self.dir, top=SPOOL))  # one instance: audit (file)
        eid = self.post_ok(h, event_body("tier.increase", "again"))
        self.wait_state(eid, "audit", "delivered")
        self.assertEqual(self.cli_json("replay", eid), {"replayed": 1})
        self.poll(lambda: file_ids(self.events).count(eid) == 2, 10, "the second delivery")
        d = self.poll(lambda: (lambda d: d if d["state"] == "delivered" and d["attempts"] == 2
                               else None)(self.delivery(eid, "audit")), 10, "2 attempts")
        self.assertEqual([x["result"] for x in d["history"]], ["ok", "ok"])

    def test_replay_dead_filtered_by_plugin(self):
        plugins = (instance("one", GOOD, {"result": "fail", "count_file": self.failed}) +
                   instance("two", GOOD, {"result": "fail", "count_file": self.ok}))
        h = self.hookd(base_config(self.dir, plugins=plugins, routes=route("*", "one", "two"),
                                   top=SPOOL))
        eid = self.post_ok(h, event_body("tier.increase", "deadP"))
        self.wait_dead(2)
        self.assertEqual(self.cli_json("replay", "--dead", "--plugin", "two"), {"replayed": 1})
        self.poll(lambda: count_lines(self.ok).count(eid) == 2, 10, "the replay to two")
        time.sleep(0.5)
        self.assertEqual(count_lines(self.failed).count(eid), 1, "one was not replayed")


# ---- 2. retention ------------------------------------------------------------

class Retention(SpoolCase):
    def test_delivered_events_purged_dead_letters_kept(self):
        count = os.path.join(self.dir, "count.txt")
        plugins = (instance("deliver", GOOD, {"result": "ok", "count_file": count}) +
                   instance("reject", GOOD, {"result": "fail"}))
        h = self.hookd(base_config(self.dir, plugins=plugins,
                                   routes=route("tier.*", "deliver") + route("account.*", "reject"),
                                   top="spool: { path: spool.db, sync: normal, retention: 1s }\n"))
        done = self.post_ok(h, event_body("tier.increase", "ret1"))
        dead = self.post_ok(h, event_body("account.cancel", "ret2"))
        self.poll(lambda: done in count_lines(count), 10, "the delivery")
        self.poll(lambda: [x["event"] for x in self.dead_list()] == [dead], 10, "the dead letter")
        self.poll(lambda: done not in [e["id"] for e in self.cli_json("events")], 15,
                  "the delivered event purged")
        self.assertEqual(self.cli("events", "show", done, "--json").returncode, 1)
        time.sleep(1.5)
        self.assertEqual([e["id"] for e in self.cli_json("events")], [dead])
        self.assertEqual([x["event"] for x in self.dead_list()], [dead])
        self.assertEqual(self.delivery(dead, "reject")["state"], "dead")
        # Still replayable after its neighbours went.
        self.assertEqual(self.cli_json("replay", dead), {"replayed": 1})


# ---- 3. the inspection commands ----------------------------------------------

class Inspect(SpoolCase):
    def test_events_listing_and_filters(self):
        h = self.hookd(base_config(self.dir, top=SPOOL))
        ids = [self.post_ok(h, event_body(t, f"cli{i}")) for i, t in
               enumerate(["tier.increase", "tier.decrease", "account.cancel"])]
        self.poll(lambda: len(file_ids(self.events)) == 3, 10, "3 deliveries")

        def delivered():
            evs = self.cli_json("events")
            return evs if all(e["deliveries"]["delivered"] == 1 for e in evs) else None
        evs = self.poll(delivered, 10, "the counts to say delivered")
        self.assertEqual([e["id"] for e in evs], ids[::-1], "newest first")
        self.assertEqual([e["type"] for e in evs], ["account.cancel", "tier.decrease", "tier.increase"])
        for e in evs:
            self.assertEqual(e["source"], "constantcontact")
            self.assertRegex(e["received_at"], ISO)
            self.assertEqual(e["deliveries"], {"pending": 0, "delivered": 1, "dead": 0})

        tiers = self.cli_json("events", "--type", "tier.*")
        self.assertEqual([e["id"] for e in tiers], [ids[1], ids[0]])
        self.assertEqual(self.cli_json("events", "--type", "account.cancel")[0]["id"], ids[2])
        self.assertEqual(self.cli_json("events", "--type", "nothing.*"), [])
        self.assertEqual([e["id"] for e in self.cli_json("events", "--limit", "1")], [ids[2]])
        self.assertEqual(len(self.cli_json("events", "--since", "1h")), 3)

        time.sleep(3)
        late = self.post_ok(h, event_body("tier.increase", "late"))
        self.assertEqual([e["id"] for e in self.cli_json("events", "--since", "2s")], [late])
        self.assertEqual(len(self.cli_json("events", "--since", "1h")), 4)

        r = self.cli("events")  # the human form
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_show_and_unknown_id(self):
        h = self.hookd(base_config(self.dir, top=SPOOL))
        body = event_body("tier.increase", "show1")
        eid = self.post_ok(h, body)
        d = self.wait_state(eid, "audit", "delivered", timeout=10)
        self.assertEqual(d["attempts"], 1)
        self.assertEqual(len(d["history"]), 1)
        a = d["history"][0]
        self.assertEqual((a["n"], a["result"]), (1, "ok"))
        self.assertRegex(a["started_at"], ISO)
        ev = self.show(eid)
        self.assertLessEqual({"id", "source", "type", "received_at", "headers", "body",
                              "deliveries"}, set(ev), ev)
        self.assertEqual(ev["body"], body.decode())
        r = self.cli("events", "show", "01JDZZZZZZZZZZZZZZZZZZZZZZ", "--json")
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(self.dead_list(), [])


if __name__ == "__main__":
    unittest.main()
