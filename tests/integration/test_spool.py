"""The durable spool as a user sees it: what a 200 promises (delivered at
least once, even across SIGKILL), retries, a full disk, dedup, a graceful
stop under load, back-pressure and an older spool upgraded. The helpers here
(SpoolCase, the config and request builders) are shared: test_spool_cli_ops
(dead letters, replay, retention, inspection) and others import them."""
import datetime
import json
import os
import re
import resource
import socket
import sqlite3
import threading
import time
import unittest

from harness import (FIXTURE_DIR, PASSWORD, SECRET, USER, HookdCase, Response, base_config,
                     read_lines, request_bytes, wait_for)

GOOD = os.path.join(FIXTURE_DIR, "good.so")
FLAKY = os.path.join(FIXTURE_DIR, "flaky.so")
ULID = r"^[0-9A-HJKMNP-TV-Z]{26}$"
ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
ID_FIELD = re.compile(r'"id":"([0-9A-HJKMNP-TV-Z]{26})"')
SPOOL = "spool: { path: spool.db, sync: normal }\n"


# ---- configuration -----------------------------------------------------------

def ctct_source(dedup=None):
    """The Constant Contact source of base_config, with an optional dedup."""
    s = (f"- name: constantcontact\n"
         f"  path: /webhooks/ctct\n"
         f"  auth: {{ basic: {{ username: {USER}, password: \"{PASSWORD}\" }} }}\n"
         f"  verify: {{ scheme: ctct-hmac-sha256, secret: \"{SECRET}\" }}\n"
         f"  event_type: /event_type\n")
    if dedup:
        s += f"  dedup: {dedup}\n"
    return s


def instance(name, use, config, **extra):
    """One plugin instance; config is written as a JSON (= YAML flow) map."""
    s = f"- name: {name}\n  use: {use}\n"
    for k, v in extra.items():
        s += f"  {k}: {v}\n"
    return s + f"  config: {json.dumps(config)}\n"


def route(match, *to):
    return f'  - {{ match: "{match}", to: [{", ".join(to)}] }}\n'


# ---- requests and responses --------------------------------------------------

def event_body(event_type="tier.increase", tag="a07e1ih151d0", pad=0, **fields):
    """A Constant Contact notification; tag makes it unique, pad makes it big."""
    d = {"url": f"https://api.constantcontact.com/v2/partner/accounts/{tag}/plan",
         "event_type": event_type, **fields}
    if pad:
        d["pad"] = "x" * pad
    return json.dumps(d, separators=(",", ":")).encode()


class TruncatedResponse(Exception):
    """The server closed the connection in the middle of a response."""


def read_strict(sock, timeout=30):
    """Reads one response. (Response, b"") when complete; (None, b"") when the
    peer closed or reset before sending a byte; raises TruncatedResponse when
    it stopped part-way, or the bytes are not an HTTP response."""
    sock.settimeout(timeout)
    buf = b""

    def more():
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk and buf:
            raise TruncatedResponse(buf[:300])
        return chunk

    while b"\r\n\r\n" not in buf:
        chunk = more()
        if not chunk:
            return None, b""
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"^HTTP/1\.[01] (\d{3}) ", lines[0] + " ")
    if not m:
        raise TruncatedResponse(buf[:300])
    headers = {}
    for line in lines[1:]:
        if ":" not in line:
            raise TruncatedResponse(buf[:300])
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = more()
        if not chunk:
            raise TruncatedResponse(buf[:300])
        rest += chunk
        buf += chunk
    return Response(int(m.group(1)), headers, rest[:n]), rest[n:]


class Sender(threading.Thread):
    """One client on its own keep-alive connection, posting unique signed
    events until `count` got an answer, `stop` is set, or the server is gone.
    acked: the ids answered 200; statuses: every complete answer's status;
    bad: truncated or malformed answers (never acceptable)."""

    def __init__(self, h, tag, count, stop, event_type="tier.increase"):
        super().__init__(daemon=True)
        self.h, self.tag, self.count, self.stop, self.event_type = h, tag, count, stop, event_type
        self.acked, self.statuses, self.bad = [], [], []

    def run(self):
        sock, closes, i = None, 0, 0
        try:
            while i < self.count and not self.stop.is_set():
                if sock is None:
                    try:
                        sock = self.h.connect(timeout=30)
                    except OSError:
                        return  # refused: the server is gone
                body = event_body(self.event_type, f"{self.tag}-{i}")
                try:
                    sock.sendall(request_bytes(body))
                    r, _ = read_strict(sock)
                except TruncatedResponse as e:
                    self.bad.append(f"truncated response: {e.args[0]!r}")
                    return
                except socket.timeout:
                    self.bad.append("no answer within 30 s")
                    return
                except OSError:
                    r = None  # reset while sending: no answer at all
                if r is None:
                    sock.close()
                    sock = None
                    closes += 1
                    if closes > 50:
                        return
                    continue
                i += 1
                self.statuses.append(r.status)
                if r.status == 200:
                    try:
                        eid = json.loads(r.body)["id"]
                    except (ValueError, KeyError, TypeError):
                        self.bad.append(f"200 without an id: {r.body[:200]!r}")
                        return
                    self.acked.append(eid)
                if r.headers.get("connection", "").lower() == "close":
                    sock.close()
                    sock = None
        finally:
            if sock is not None:
                sock.close()


# ---- outputs -----------------------------------------------------------------

def count_lines(path):
    """The ids a `good`/`flaky` count_file holds, in order (with repeats)."""
    try:
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def file_ids(path):
    """The ids the `file` plugin wrote (with repeats); tolerant of a line torn
    by a SIGKILL in the middle of a write."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    return ID_FIELD.findall(text)


def iso_ms(s):
    dt = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(dt.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


class SpoolCase(HookdCase):
    """Helpers for the inspection commands and for polling."""

    def cli(self, *args):
        return self.run_cli("-c", "hookd.yaml", *args)

    def cli_json(self, *args):
        args = args if "--json" in args else (*args, "--json")
        r = self.cli(*args)
        self.assertEqual(r.returncode, 0, f"hookd {' '.join(args)}: {r.stderr.decode()}")
        try:
            return json.loads(r.stdout)
        except ValueError:
            self.fail(f"hookd {' '.join(args)} printed no JSON: {r.stdout[:500]!r}")

    def show(self, eid):
        return self.cli_json("events", "show", eid)

    def poll(self, pred, timeout=20, what="condition", interval=0.2):
        return wait_for(pred, timeout, what, interval)

    def post_ok(self, h, body, **kw):
        r = h.post(body, **kw)
        self.assertIsNotNone(r, "closed without an answer")
        self.assertEqual(r.status, 200, r)
        eid = r.json()["id"]
        self.assertRegex(eid, ULID)
        return eid

    def delivery(self, eid, plugin):
        """The one delivery of eid to plugin, from `events show`."""
        ds = [d for d in self.show(eid)["deliveries"] if d["plugin"] == plugin]
        self.assertEqual(len(ds), 1, ds)
        return ds[0]

    def wait_state(self, eid, plugin, state, timeout=20):
        last = {}

        def pred():
            last["d"] = self.delivery(eid, plugin)
            return last["d"] if last["d"]["state"] == state else None
        try:
            return self.poll(pred, timeout, f"{plugin} delivery of {eid} {state}")
        except AssertionError as e:
            raise AssertionError(f"{e}; last seen: {last.get('d')}") from None

    def wait_all(self, acked, outputs, timeout):
        """Waits until every acked id appears in every output (name -> reader)."""
        want = set(acked)
        missing = {}

        def pred():
            for name, reader in outputs.items():
                missing[name] = want - set(reader())
            return not any(missing.values())
        try:
            self.poll(pred, timeout, "every acknowledged id delivered", interval=0.5)
        except AssertionError:
            self.fail("acknowledged but never delivered: " +
                      ", ".join(f"{n}: {len(m)} of {len(want)} (e.g. {sorted(m)[:3]})"
                                for n, m in missing.items() if m))

    def dead_list(self, *args):
        return self.cli_json("dead", *args)


# ---- 1. SIGKILL --------------------------------------------------------------

class Crash(SpoolCase):
    def test_acknowledged_events_survive_sigkill(self):
        slow = os.path.join(self.dir, "slow.txt")
        plugins = (instance("audit", "file", {"path": self.events}) +
                   instance("slow", GOOD, {"result": "ok", "sleep_ms": 4, "count_file": slow},
                            concurrency=1))
        cfg = base_config(self.dir, plugins=plugins, routes=route("*", "audit", "slow"),
                          top="spool: { path: spool.db, sync: full }\n"
                              "dispatch: { workers: 4, queue: 100000 }\n")
        h = self.hookd(cfg)
        stop = threading.Event()
        senders = [Sender(h, f"crash{t}", 625, stop) for t in range(8)]  # 5,000 in all
        for s in senders:
            s.start()
        try:
            self.poll(lambda: sum(len(s.acked) for s in senders) >= 2500 or
                      not any(s.is_alive() for s in senders), 180, "2,500 acknowledgements",
                      interval=0.01)
            self.assertGreaterEqual(sum(len(s.acked) for s in senders), 2500,
                                    "the senders stopped early: " + h.run_log()[-2000:])
            self.assertEqual(h.kill(), -9)
        finally:
            stop.set()
            for s in senders:
                s.join(60)
        self.assertFalse(any(s.is_alive() for s in senders))
        acked = [i for s in senders for i in s.acked]
        self.assertEqual([b for s in senders for b in s.bad], [])
        self.assertEqual(len(acked), len(set(acked)), "an id was given twice")
        self.assertLess(len(acked), 5000, "killed too late to test anything")
        # The slow instance (250 a second at most) lagged: part of what was
        # acknowledged was only in the spool when hookd died.
        self.assertLess(len(set(count_lines(slow)) & set(acked)), len(acked),
                        "no backlog at the kill; the test did not exercise recovery")

        h.start(timeout=120)
        self.wait_all(acked, {"file": lambda: file_ids(self.events),
                              "slow": lambda: count_lines(slow)}, timeout=120)
        self.assertEqual(self.dead_list(), [])
        self.assertEqual(h.stop(), 0, h.run_log()[-3000:])


# ---- 2. retries --------------------------------------------------------------

class Retry(SpoolCase):
    def config(self, fail_times, attempts):
        self.count = os.path.join(self.dir, "flaky-ok.txt")
        plugins = instance("flaky", FLAKY,
                           {"state_file": os.path.join(self.dir, "flaky-state.txt"),
                            "fail_times": fail_times, "count_file": self.count},
                           retry=f"{{ attempts: {attempts}, backoff: 100ms, max_backoff: 1s }}")
        return base_config(self.dir, plugins=plugins, routes=route("*", "flaky"), top=SPOOL)

    def test_delivered_on_third_attempt(self):
        h = self.hookd(self.config(fail_times=2, attempts=5))
        body = event_body("tier.increase", "flaky1")
        eid = self.post_ok(h, body)
        self.poll(lambda: eid in count_lines(self.count), 20, "the third attempt")
        d = self.wait_state(eid, "flaky", "delivered")
        self.assertEqual(count_lines(self.count), [eid])
        self.assertEqual(d["attempts"], 3, d)
        self.assertRegex(d["updated_at"], ISO)
        hist = d["history"]
        self.assertEqual([a["n"] for a in hist], [1, 2, 3], hist)
        self.assertEqual([a["result"] for a in hist], ["retry", "retry", "ok"], hist)
        for a in hist[:2]:
            self.assertEqual(a["reason"], "flaky: failing on purpose")
            self.assertRegex(a["retry_at"], ISO)
        self.assertFalse(hist[2].get("retry_at"), "no retry is scheduled after an ok")
        starts = [iso_ms(a["started_at"]) for a in hist]
        # Increasing (full jitter may pick a delay under 1 ms: equal is fine).
        self.assertEqual(starts, sorted(starts), hist)
        for a, nxt in zip(hist, hist[1:]):
            # The back-off is honoured: the next attempt is not before retry_at,
            # and retry_at is within max_backoff (1 s) of the failed attempt.
            self.assertGreaterEqual(iso_ms(nxt["started_at"]), iso_ms(a["retry_at"]) - 5, hist)
            self.assertLessEqual(iso_ms(a["retry_at"]) - iso_ms(a["started_at"]),
                                 1000 + a["duration_ms"] + 250, hist)
            self.assertIsInstance(a["duration_ms"], int)
        # The event itself, as stored.
        ev = self.show(eid)
        self.assertEqual(ev["id"], eid)
        self.assertEqual(ev["source"], "constantcontact")
        self.assertEqual(ev["type"], "tier.increase")
        self.assertRegex(ev["received_at"], ISO)
        self.assertEqual(ev["body"], body.decode())
        self.assertIsInstance(ev["headers"], dict)
        self.assertNotIn("authorization", {k.lower() for k in ev["headers"]},
                         "credentials must not be stored")
        self.assertLessEqual(iso_ms(ev["received_at"]), starts[0])

    def test_attempts_exhausted_is_dead(self):
        h = self.hookd(self.config(fail_times=10, attempts=3))
        eid = self.post_ok(h, event_body("tier.decrease", "flaky2"))
        d = self.wait_state(eid, "flaky", "dead")
        self.assertEqual(d["attempts"], 3, d)
        self.assertEqual([a["result"] for a in d["history"]], ["retry"] * 3)
        self.assertEqual(d["reason"], "flaky: failing on purpose")
        time.sleep(1.5)  # no fourth attempt comes (max_backoff is 1 s)
        self.assertEqual(self.delivery(eid, "flaky")["attempts"], 3)
        self.assertEqual(count_lines(self.count), [])
        dead = self.dead_list()
        self.assertEqual([(x["event"], x["plugin"], x["attempts"]) for x in dead],
                         [(eid, "flaky", 3)])


# ---- 3. disk full ------------------------------------------------------------

class DiskFull(SpoolCase):
    HEADROOM = 300 * 1024  # bytes any file may grow by before the "disk" is full

    def test_full_disk_answers_503_and_recovers(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        if hard != resource.RLIM_INFINITY and hard < 64 << 20:
            self.skipTest(f"RLIMIT_FSIZE hard limit is only {hard}")
        count = os.path.join(self.dir, "count.txt")
        plugins = instance("hook", GOOD, {"result": "ok", "count_file": count})
        # A first run creates the spool (a new one takes a few hundred KiB of
        # writes), so the limit below leaves hookd room to start again.
        h = self.hookd(base_config(self.dir, plugins=plugins, routes=route("*", "hook"),
                                   top=SPOOL))
        first = self.post_ok(h, event_body("tier.increase", "first-run"))
        self.wait_all([first], {"hook": lambda: count_lines(count)}, timeout=10)
        self.assertEqual(h.stop(), 0)
        footprint = max(os.path.getsize(os.path.join(self.dir, f)) for f in os.listdir(self.dir))
        limit = footprint + self.HEADROOM

        def small_files():  # in the child, before exec: soft limit only
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

        h.preexec_fn = small_files
        h.start()
        acked, full = [first], None
        for i in range(300):  # 300 x 20 KiB is far past the headroom
            r = h.post(event_body("tier.increase", f"full{i}", pad=20 * 1024))
            self.assertIsNotNone(r, "closed without an answer: " + h.run_log()[-2000:])
            if r.status == 503:
                full = r
                break
            self.assertEqual(r.status, 200, r)
            acked.append(r.json()["id"])
        self.assertIsNotNone(full, f"no 503 after {len(acked)} events of 20 KiB")
        self.assertIn("retry-after", full.headers)
        self.assertRegex(full.headers["retry-after"], r"^\d+$")
        self.assertIsInstance(full.json()["error"], str)
        self.assertTrue(full.json()["error"])
        time.sleep(0.3)
        self.assertTrue(h.alive(), "hookd died on a full disk: " + h.run_log()[-2000:])
        r = h.post(event_body("tier.increase", "still-full"))  # still answering
        self.assertIsNotNone(r, "closed without an answer")
        self.assertIn(r.status, (200, 503), r)
        if r.status == 200:
            acked.append(r.json()["id"])

        # Space returns: hookd recovers by itself.
        resource.prlimit(h.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, hard))
        deadline, r = time.time() + 15, None
        while time.time() < deadline:
            r = h.post(event_body("tier.increase", "after", pad=20 * 1024))
            self.assertIsNotNone(r)
            if r.status == 200:
                break
            self.assertEqual(r.status, 503, r)
            time.sleep(0.3)
        self.assertEqual(r.status, 200, f"still refusing after the space returned: {r}")
        acked.append(r.json()["id"])
        for i in range(5):
            acked.append(self.post_ok(h, event_body("tier.increase", f"again{i}", pad=20 * 1024)))
        self.wait_all(acked, {"hook": lambda: count_lines(count)}, timeout=30)
        self.assertEqual(h.stop(), 0, h.run_log()[-3000:])
        db = sqlite3.connect(os.path.join(self.dir, "spool.db"))
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        finally:
            db.close()
        # And the spool still serves the next run (without the limit).
        h.preexec_fn = None
        h.start()
        self.post_ok(h, event_body("tier.increase", "next-run"))


# ---- 4. dedup ----------------------------------------------------------------

class Dedup(SpoolCase):
    def start(self, dedup):
        return self.hookd(base_config(self.dir, sources=ctct_source(dedup), top=SPOOL))

    def assertDuplicate(self, h, first_raw, second_raw):
        r1, r2 = h.send(first_raw), h.send(second_raw)
        self.assertEqual((r1.status, r2.status), (200, 200), (r1, r2))
        first, second = r1.json(), r2.json()
        self.assertRegex(first["id"], ULID)
        self.assertFalse(first.get("duplicate", False), first)
        self.assertEqual(second, {"id": first["id"], "duplicate": True})
        return first["id"]

    def assertDeliveredOnce(self, eid):
        self.poll(lambda: eid in file_ids(self.events), 10, "the delivery")
        time.sleep(0.5)
        self.assertEqual(file_ids(self.events).count(eid), 1)

    def test_same_body_twice(self):
        h = self.start("{ key: body, window: 1h }")
        body = event_body("tier.increase", "dup1")
        eid = self.assertDuplicate(h, request_bytes(body), request_bytes(body))
        self.assertDeliveredOnce(eid)
        self.assertEqual([e["id"] for e in self.cli_json("events")], [eid])
        other = self.post_ok(h, event_body("tier.increase", "dup2"))
        self.assertNotEqual(other, eid, "a different body is a different event")
        self.poll(lambda: other in file_ids(self.events), 10, "the second event")
        self.assertEqual(len(self.cli_json("events")), 2)

    def test_same_header_value(self):
        h = self.start('{ key: "header:X-Delivery-Id", window: 1h }')
        eid = self.assertDuplicate(
            h, request_bytes(event_body("tier.increase", "h1"), headers={"X-Delivery-Id": "d-42"}),
            request_bytes(event_body("tier.decrease", "h2"), headers={"x-delivery-id": "d-42"}))
        self.assertDeliveredOnce(eid)
        other = self.post_ok(h, event_body("tier.increase", "h1"), headers={"X-Delivery-Id": "d-43"})
        self.assertNotEqual(other, eid)
        self.poll(lambda: other in file_ids(self.events), 10, "the d-43 event")
        self.assertEqual(sorted(e["id"] for e in self.cli_json("events")), sorted([eid, other]))

    def test_same_json_pointer_value(self):
        h = self.start('{ key: "pointer:/id", window: 1h }')
        eid = self.assertDuplicate(
            h, request_bytes(event_body("tier.increase", "p1", id="evt-7")),
            request_bytes(event_body("tier.increase", "p2", id="evt-7")))
        self.assertDeliveredOnce(eid)
        other = self.post_ok(h, event_body("tier.increase", "p1", id="evt-8"))
        self.assertNotEqual(other, eid)

    def test_duplicate_survives_a_restart(self):
        h = self.start("{ key: body, window: 1h }")
        body = event_body("tier.increase", "dup-restart")
        eid = self.post_ok(h, body)
        self.assertEqual(h.stop(), 0)
        h.start()
        r = h.post(body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"id": eid, "duplicate": True})


# ---- 5. SIGTERM under load ---------------------------------------------------

class GracefulStop(SpoolCase):
    def test_sigterm_under_load(self):
        slow = os.path.join(self.dir, "slow.txt")
        plugins = (instance("audit", "file", {"path": self.events}) +
                   instance("slow", GOOD, {"result": "ok", "sleep_ms": 5, "count_file": slow},
                            concurrency=1))
        cfg = base_config(self.dir, plugins=plugins, routes=route("*", "audit", "slow"),
                          top=SPOOL + "dispatch: { workers: 4, queue: 100000 }\n")
        h = self.hookd(cfg)
        stop = threading.Event()
        senders = [Sender(h, f"term{t}", 10 ** 6, stop) for t in range(8)]
        for s in senders:
            s.start()
        try:
            self.poll(lambda: sum(len(s.acked) for s in senders) >= 500 or
                      not any(s.is_alive() for s in senders), 120, "500 acknowledgements",
                      interval=0.01)
            rc = h.stop(timeout=60)
            self.assertEqual(rc, 0, "exit code after SIGTERM; log:\n" + h.run_log()[-3000:])
            for s in senders:
                s.join(60)
            self.assertFalse(any(s.is_alive() for s in senders), "a client is still waiting")
        finally:
            stop.set()
            for s in senders:
                s.join(60)
        self.assertEqual([b for s in senders for b in s.bad], [],
                         "every answer a client read must be a whole HTTP response")
        statuses = {st for s in senders for st in s.statuses}
        self.assertLessEqual(statuses, {200, 503})
        acked = [i for s in senders for i in s.acked]
        self.assertGreaterEqual(len(acked), 500)
        # The listener is closed.
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", h.port), timeout=2).close()

        h.start(timeout=60)
        self.wait_all(acked, {"file": lambda: file_ids(self.events),
                              "slow": lambda: count_lines(slow)}, timeout=120)


# ---- 6. back-pressure --------------------------------------------------------

class Backpressure(SpoolCase):
    def test_bounded_queue(self):
        count = os.path.join(self.dir, "count.txt")
        plugins = instance("slow", GOOD, {"result": "ok", "sleep_ms": 1000, "count_file": count},
                           concurrency=1)
        h = self.hookd(base_config(self.dir, plugins=plugins, routes=route("*", "slow"),
                                   top=SPOOL + "dispatch: { workers: 2, queue: 3 }\n"))
        acked, statuses, refused = [], [], None
        for i in range(10):
            r = h.post(event_body("tier.increase", f"bp{i}"))
            self.assertIsNotNone(r, "closed without an answer")
            statuses.append(r.status)
            if r.status == 200:
                acked.append(r.json()["id"])
            elif r.status == 503:
                refused = refused or r
        self.assertEqual(statuses[0], 200, statuses)
        self.assertIn(503, statuses)
        self.assertLessEqual(set(statuses), {200, 503})
        self.assertRegex(refused.headers.get("retry-after", ""), r"^\d+$")
        self.assertTrue(refused.json()["error"])
        # Caught up: new events are accepted again, refused ones never show up.
        self.wait_all(acked, {"slow": lambda: count_lines(count)}, timeout=60)
        acked.append(self.post_ok(h, event_body("tier.increase", "bp-after")))
        self.wait_all(acked, {"slow": lambda: count_lines(count)}, timeout=30)
        self.assertEqual(sorted(count_lines(count)), sorted(acked))
        self.assertEqual(len(self.cli_json("events")), len(acked))


# ---- 7. an older spool -------------------------------------------------------

def downgrade_to_schema_1(path):
    """Leaves a stopped daemon's spool as a schema-1 hookd would have."""
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE events DROP COLUMN enrichment")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    db.commit()
    db.close()


class Upgrade(SpoolCase):
    def test_schema_1_spool_upgraded_in_place(self):
        h = self.hookd(base_config(self.dir, top=SPOOL))
        old = self.post_ok(h, event_body("tier.increase", "up1"))
        self.poll(lambda: old in [x["id"] for x in read_lines(self.events)], 10, "delivery")
        self.assertEqual(h.stop(), 0)
        # Make it what a schema-1 hookd left behind: no enrichment column.
        downgrade_to_schema_1(os.path.join(self.dir, "spool.db"))
        h.start()
        self.assertIn("upgraded from schema 1 to 2", h.run_log())
        new = self.post_ok(h, event_body("tier.increase", "up2"))
        self.poll(lambda: new in [x["id"] for x in read_lines(self.events)], 10, "delivery")
        self.assertEqual(self.show(old)["id"], old)
        db = sqlite3.connect(os.path.join(self.dir, "spool.db"))
        self.assertEqual(db.execute("SELECT value FROM meta WHERE key='schema'").fetchone(), ("2",))
        db.close()



if __name__ == "__main__":
    unittest.main()
