"""The spool commands in cluster mode (issue 17 item 7): with `spool.driver:
postgres`, `hookd events`, `events show`, `dead` and `replay` read the shared
spool, so any node's configuration sees every event posted through haproxy,
whichever node took it; a dead letter replayed from one node is delivered
again by some node (NOTIFY hookd_due wakes them), and the conninfo's password
is never printed."""
import json
import os
import re
import subprocess
import textwrap
import unittest

import pgcluster
from cluster import NODE_HEADER, ClusterCase, node_config
from harness import FIXTURE_DIR, HOOKD, PASSWORD, SECRET, USER, ctct_body, wait_for

PATH = "/webhooks/ctct"
SPOOL = "spool: { driver: postgres, conninfo: @CONNINFO@, node: n@INDEX@, lease: 2s }\n"
GOOD = os.path.join(FIXTURE_DIR, "good.so")

SOURCES = textwrap.dedent(f"""\
  - name: constantcontact
    path: {PATH}
    auth: {{ basic: {{ username: {USER}, password: "{PASSWORD}" }} }}
    verify: {{ scheme: ctct-hmac-sha256, secret: "{SECRET}" }}
    event_type: /event_type
""")

# audit: the file plugin; reject: fails every delivery at once (dead, no
# retry), counting each attempt in its node's reject.count.
PLUGINS = textwrap.dedent(f"""\
  - name: audit
    use: file
    config: {{ path: "@DIR@/events.jsonl" }}
  - name: reject
    use: {GOOD}
    config: {{ result: fail, count_file: "@DIR@/reject.count" }}
""")

ROUTES = ('  - { match: "tier.*", to: [audit] }\n'
          '  - { match: "fail.*", to: [reject] }\n')


def count_lines(path):
    try:
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


class ClusterCli(pgcluster.WithPostgres, ClusterCase):
    def cli(self, node, *args):
        """hookd ARGS -c NODE's configuration; the password never in its output."""
        r = subprocess.run([HOOKD, *args, "-c", os.path.join(node.dir, "hookd.yaml")],
                           cwd=node.dir, capture_output=True, timeout=60)
        out = (r.stdout + r.stderr).decode()
        self.assertNotIn("s3cret", out, "the conninfo's password was printed")
        return r

    def cli_json(self, node, *args):
        r = self.cli(node, *args, "--json")
        self.assertEqual(r.returncode, 0, f"{args}: {r.stderr.decode()}")
        return json.loads(r.stdout)

    def reject_attempts(self, c, eid):
        return sum(count_lines(os.path.join(n.dir, "reject.count")).count(eid) for n in c.nodes)

    def audit_copies(self, c, eid):
        return sum(n.event_ids().count(eid) for n in c.nodes)

    def test_commands_on_any_node(self):
        c = self.cluster(node_config(spool=SPOOL, sources=SOURCES, plugins=PLUGINS,
                                     routes=ROUTES), n=3, pg=self.pg)
        ids, nodes = [], set()
        for i in range(6):
            r = c.post(PATH, ctct_body("tier.increase", account=f"acct{i}"))
            self.assertEqual(r.status, 200, r)
            ids.append(r.json()["id"])
            nodes.add(r.headers.get(NODE_HEADER.lower()))
        r = c.post(PATH, ctct_body("fail.now", account="dead1"))
        self.assertEqual(r.status, 200, r)
        dead_id = r.json()["id"]
        ids.append(dead_id)
        self.assertGreater(len(nodes), 1, "haproxy spread the posts")

        def settled():
            evs = self.cli_json(c.node(0), "events")
            return evs if len(evs) == 7 and all(e["status"] in ("delivered", "dead")
                                                for e in evs) else None
        evs = wait_for(settled, 20, "7 events delivered or dead")
        # Every node's configuration lists all of them, newest first (in the
        # order the spool stored them: the posts went one after the other).
        self.assertEqual(sorted(e["id"] for e in evs), sorted(ids))
        self.assertEqual([e["id"] for e in evs], ids[::-1])
        for n in c.nodes[1:]:
            self.assertEqual(self.cli_json(n, "events"), evs)
        [d] = [e for e in evs if e["id"] == dead_id]
        self.assertEqual((d["status"], d["deliveries"]),
                         ("dead", {"pending": 0, "delivered": 0, "dead": 1}))

        # Filters, against the shared spool.
        node1 = c.node(1)
        self.assertEqual([e["id"] for e in self.cli_json(node1, "events", "--status", "dead")],
                         [dead_id])
        self.assertEqual(len(self.cli_json(node1, "events", "--type", "tier.*")), 6)
        self.assertEqual(len(self.cli_json(node1, "events", "--source", "constantcontact",
                                           "--limit", "3")), 3)
        self.assertEqual(self.cli_json(node1, "events", "--source", "nobody"), [])
        r = self.cli(node1, "events")  # the human form
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(dead_id, r.stdout.decode())

        # show, from another node than the one that took it.
        ev = self.cli_json(c.node(2), "events", "show", dead_id)
        self.assertEqual(ev["id"], dead_id)
        self.assertEqual(ev["type"], "fail.now")
        [dl] = ev["deliveries"]
        self.assertEqual((dl["plugin"], dl["state"], dl["attempts"]), ("reject", "dead", 1))
        self.assertEqual([a["result"] for a in dl["history"]], ["fail"])
        self.assertEqual(json.loads(ev["body"])["event_type"], "fail.now")
        r = self.cli(c.node(2), "events", "show", "01JDZZZZZZZZZZZZZZZZZZZZZZ")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no event 01JDZZZZZZZZZZZZZZZZZZZZZZ in the spool", r.stderr.decode())

        # dead, then replay --dead from yet another node: some node runs it again.
        [letter] = self.cli_json(c.node(0), "dead")
        self.assertEqual((letter["event"], letter["plugin"], letter["attempts"]),
                         (dead_id, "reject", 1))
        self.assertEqual(self.cli_json(c.node(1), "dead", "--plugin", "audit"), [])
        self.assertEqual(self.reject_attempts(c, dead_id), 1)
        self.assertEqual(self.cli_json(c.node(1), "replay", "--dead"), {"replayed": 1})
        wait_for(lambda: self.reject_attempts(c, dead_id) == 2, 15,
                 "the replayed dead letter attempted again")
        wait_for(lambda: [x["attempts"] for x in self.cli_json(c.node(2), "dead")] == [2], 15,
                 "dead again after its second attempt")
        self.assertEqual(self.cli_json(c.node(2), "replay", "--dead", "--type", "tier.*"),
                         {"replayed": 0})

        # replay ID: a delivered event delivered again, once, by some node.
        self.assertEqual(self.audit_copies(c, ids[0]), 1)
        self.assertEqual(self.cli_json(c.node(2), "replay", ids[0]), {"replayed": 1})
        wait_for(lambda: self.audit_copies(c, ids[0]) == 2, 15, "the replayed event delivered")
        r = self.cli(c.node(0), "replay", "01JDZZZZZZZZZZZZZZZZZZZZZZ")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no event", r.stderr.decode())

    def test_unreachable_spool_is_one_line(self):
        c = self.cluster(node_config(spool=SPOOL, sources=SOURCES, plugins=PLUGINS,
                                     routes=ROUTES), n=1, pg=self.pg)
        node = c.node(0)
        path = os.path.join(node.dir, "hookd.yaml")
        with open(path) as f:
            text = f.read()
        other = os.path.join(node.dir, "other.yaml")
        text, n = re.subn(r'conninfo: "(?:[^"\\]|\\.)*"',
                          'conninfo: "host=127.0.0.1 port=1 dbname=x user=u password=pw-s3cret'
                          ' connect_timeout=2"', text)
        self.assertEqual(n, 1, text)
        with open(other, "w") as f:
            f.write(text)
        r = subprocess.run([HOOKD, "events", "-c", other], cwd=node.dir, capture_output=True,
                           timeout=60)
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 1, err)
        self.assertTrue(err.startswith("hookd: PostgreSQL not reachable"), err)
        self.assertEqual(err.count("\n"), 1, err)
        self.assertNotIn("pw-s3cret", err + r.stdout.decode())


if __name__ == "__main__":
    unittest.main()
