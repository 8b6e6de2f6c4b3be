"""The cluster test harness itself (cluster.py): three hookd nodes, each on
today's SQLite spool with its own file-plugin output, behind a real haproxy.
Requests are balanced over every node, a hung node (SIGSTOP) is taken out by
the /readyz health check and comes back after SIGCONT, and cleanup leaves no
process and no folder behind. The health check is /readyz: a node that is
alive but cannot store goes out too."""
import json
import os
import resource
import signal
import textwrap
import time

from cluster import NODE_HEADER, Cluster, ClusterCase, admin_get, node_config
from harness import PASSWORD, SLOW, USER, ctct_body, ctct_sig, wait_for

PATH = "/webhooks/ctct"


class ClusterHarness(ClusterCase):
    def post_many(self, c, count, tag):
        """count signed Constant Contact v2 notifications through haproxy;
        each must get 200. Returns [(event id, node that answered)]."""
        got = []
        for i in range(count):
            r = c.post(PATH, ctct_body("tier.increase", account=f"{tag}{i}"))
            self.assertIsNotNone(r, "haproxy closed without an answer")
            self.assertEqual(r.status, 200, r)
            got.append((r.json()["id"], r.headers.get(NODE_HEADER.lower())))
        return got

    def outputs(self, c, total):
        """Each node's delivered ids once the nodes together wrote total."""
        wait_for(lambda: sum(len(n.event_ids()) for n in c.nodes) >= total,
                 what=f"{total} events in the nodes' files")
        return {n.name: n.event_ids() for n in c.nodes}

    def test_requests_spread_over_every_node(self):
        c = self.cluster(node_config(), n=3)
        got = self.post_many(c, 30, "spread")
        ids = [eid for eid, _ in got]
        self.assertEqual(len(set(ids)), 30)

        out = self.outputs(c, 30)
        for name, node_ids in out.items():
            self.assertTrue(node_ids, f"{name} got none of the 30: {out}")
        every = [eid for node_ids in out.values() for eid in node_ids]
        self.assertEqual(sorted(every), sorted(ids), "the files hold exactly the 30 ids, once each")
        # The header haproxy adds names the node whose file has the event.
        for eid, name in got:
            self.assertIn(eid, out[name], f"{eid} answered by {name}")
        stats = c.stats()
        self.assertEqual(sum(int(stats[n.name]["hrsp_2xx"]) for n in c.nodes), 30)

    def test_hung_node_taken_out_and_back(self):
        c = self.cluster(node_config(), n=3)
        hung = c.node(1)
        hung.stop()  # SIGSTOP: its sockets accept, nothing answers
        t0 = time.monotonic()
        c.wait_out(1, timeout=5)
        self.assertLess(time.monotonic() - t0, 5 * SLOW)
        self.assertEqual(c.status(1), "DOWN")

        got = self.post_many(c, 10, "hung")
        self.assertEqual(sorted({name for _, name in got}), ["node0", "node2"])
        out = self.outputs(c, 10)
        self.assertEqual(out["node1"], [])
        self.assertEqual(sorted(out["node0"] + out["node2"]), sorted(eid for eid, _ in got))

        hung.cont()
        c.wait_ready(1, timeout=5)
        self.assertEqual(c.status(1), "UP")
        # Back in the rotation: round-robin reaches it again.
        got = self.post_many(c, 6, "back")
        self.assertIn("node1", {name for _, name in got})
        wait_for(lambda: len(hung.event_ids()) > 0, what="node1 delivering again")

    def test_cleanup_ends_every_process(self):
        c = Cluster(node_config(), n=2)
        self.clusters.append(c)
        c.start()
        folder = c.dir
        pids = [n.pid for n in c.nodes] + [c.haproxy.pid]
        c.node(0).stop()  # a paused node must still be ended
        c.node(1).kill()  # and one killed on purpose is no failure
        self.assertEqual(c.cleanup(), [])
        for pid in pids:
            with self.assertRaises(ProcessLookupError, msg=f"pid {pid} still there"):
                os.kill(pid, 0)
        self.assertFalse(os.path.exists(folder))

    def test_restart_keeps_the_node_in_place(self):
        c = self.cluster(node_config(), n=2)
        node = c.node(0)
        port, old_pid = node.port, node.pid
        node.kill(signal.SIGKILL)
        c.wait_out(0)
        node.restart()
        self.assertNotEqual(node.pid, old_pid)
        self.assertEqual(node.port, port)
        c.wait_ready(0)
        got = self.post_many(c, 4, "restart")
        self.assertEqual({name for _, name in got}, {"node0", "node1"})

    def test_not_ready_node_taken_out_while_alive(self):
        """The check is /readyz, not a mere connect or /healthz: a node whose
        spool cannot write (RLIMIT_FSIZE) still answers /healthz but goes out."""
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        if hard != resource.RLIM_INFINITY:
            self.skipTest(f"RLIMIT_FSIZE hard limit is {hard}")
        # No route matches: events are stored, nothing is delivered.
        c = self.cluster(node_config(routes='  - { match: "never.*", to: [audit] }\n'), n=2)
        full = c.node(1)
        footprint = max(os.path.getsize(os.path.join(full.dir, f)) for f in os.listdir(full.dir))
        resource.prlimit(full.pid, resource.RLIMIT_FSIZE, (footprint + 300 * 1024, hard))

        def padded(i):
            return json.dumps({"event_type": "tier.increase", "n": i,
                               "pad": "x" * 20 * 1024}).encode()
        for i in range(300):
            r = full.post(PATH, padded(i))
            if r.status == 503:
                break
            self.assertEqual(r.status, 200, r)
        self.assertEqual(r.status, 503, "the spool never filled up")
        c.wait_out(1)
        self.assertEqual(admin_get(full.admin_port, "/healthz").status, 200)
        self.assertTrue(full.alive())
        got = self.post_many(c, 4, "full")
        self.assertEqual({name for _, name in got}, {"node0"})

        # Space returns: the next commit succeeds and haproxy takes it back.
        resource.prlimit(full.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, hard))
        wait_for(lambda: full.post(PATH, padded(1000)).status == 200, timeout=15,
                 what="node1 storing again", interval=0.3)
        c.wait_ready(1)

    def test_conninfo_reaches_each_node_exactly(self):
        """@CONNINFO@ (and ${HOOKD_PG}) give hookd the connection string byte
        for byte, quotes and backslashes included: here it is the signing
        secret, so a request signed with it is the proof."""
        conninfo = "host=127.0.0.1 port=5432 dbname=hookd user=hookd password='s3c\\'r\"et'"

        class Pg:  # stands in for a pgcluster.PgCluster
            def conninfo(self):
                return conninfo
        sources = "".join(textwrap.dedent(f"""\
          - name: {name}
            path: /webhooks/{name}
            auth: {{ basic: {{ username: {USER}, password: "{PASSWORD}" }} }}
            verify: {{ scheme: ctct-hmac-sha256, secret: {secret} }}
            event_type: /event_type
        """) for name, secret in (("placeholder", "@CONNINFO@"), ("env", '"${HOOKD_PG}"')))
        c = self.cluster(node_config(sources=sources), n=2, pg=Pg())
        self.assertEqual(c.conninfo, conninfo)
        body = ctct_body()
        for name in ("placeholder", "env"):
            for _ in range(2):  # both nodes
                r = c.post(f"/webhooks/{name}", body,
                           headers={"x-ctct-hmac-sha256": ctct_sig(body, conninfo)})
                self.assertEqual(r.status, 200, r)
            r = c.post(f"/webhooks/{name}", body)  # signed with the harness's secret
            self.assertEqual(r.status, 401, r)
