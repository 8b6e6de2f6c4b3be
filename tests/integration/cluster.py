"""Several hookd nodes behind a real haproxy, for the cluster tests (docs/DESIGN.md
§11). Standard library only.

    with Cluster(node_config(), n=3) as c:     # or ClusterCase.cluster(...)
        r = c.post("/webhooks/ctct", ctct_body())   # through haproxy, signed
        r.headers["x-hookd-node"]                   # "node0": which node answered
        c.node(1).stop()                            # SIGSTOP
        c.wait_out(1)                               # haproxy has marked it DOWN
        c.node(1).cont()                            # SIGCONT
        c.wait_ready(1)                             # /readyz 200 and haproxy UP

Each node runs `hookd run -c NODE_DIR/hookd.yaml` in its own folder (its own
spool file, its own plugin output), made from the test's YAML template with
these placeholders replaced (plain text replacement: `${NAME}` stays hookd's):

    @PORT@        the node's webhook port (fixed for the cluster's life, so a
                  restarted node comes back where haproxy looks for it)
    @ADMIN_PORT@  the node's admin port: haproxy's health check is GET /readyz
                  there, so the template must have `admin: { listen: ... }`
    @DIR@         the node's folder (also its working directory)
    @NODE@        the node's name: node0, node1, ...
    @INDEX@       0, 1, ...
    @CONNINFO@    the PostgreSQL connection string as a double-quoted YAML
                  scalar (write `conninfo: @CONNINFO@`, no quotes); "" when the
                  cluster has none. It is also in each node's environment as
                  HOOKD_PG, for `conninfo: "${HOOKD_PG}"`.

haproxy runs in the foreground (-db) as a child process, on a free loopback
port, round-robin over the nodes' webhook ports, every answer tagged with the
server that gave it (X-Hookd-Node), and reports through a stats socket
(`show stat`). Every process and the folder go in cleanup()."""
import csv
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
import unittest

from harness import SLOW, Hookd, base_config, read_lines, read_response, request_bytes, wait_for

NODE_HEADER = "X-Hookd-Node"  # haproxy adds it to every answer a node gave


def haproxy_bin():
    env = os.environ.get("HAPROXY_BIN")
    if env:
        return env if os.access(env, os.X_OK) else None
    # Debian installs it in /usr/sbin, not in a normal user's PATH.
    return shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")


def available():
    """Why a cluster cannot run here, or None if it can."""
    if not haproxy_bin():
        return "haproxy is not installed (scripts/deps.sh installs it)"
    return None


def free_ports(n):
    """n distinct free loopback ports (all bound at once, so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def node_config(spool="spool: { path: spool.db, sync: normal }\n", **kw):
    """A node template on today's embedded spool: the harness's usual
    Constant Contact source and file plugin (@DIR@/events.jsonl), the webhook
    listener on @PORT@ and the admin listener on @ADMIN_PORT@. kw goes to
    harness.base_config (sources, plugins, routes, extra_server, top)."""
    top = 'admin: { listen: "127.0.0.1:@ADMIN_PORT@" }\n' + spool + kw.pop("top", "")
    return base_config("@DIR@", top=top, listen='["127.0.0.1:@PORT@"]', **kw)


def admin_get(port, path, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        resp, _ = read_response(s)
        return resp


class Node:
    """One hookd of the cluster. stop()/cont() are SIGSTOP/SIGCONT (a hung
    node: its sockets stay open, nothing answers); term() is the graceful
    SIGTERM stop; kill() any signal, SIGKILL by default."""

    def __init__(self, index, workdir, yaml_text, port, admin_port, env):
        self.index, self.name = index, f"node{index}"
        self.dir, self.port, self.admin_port = workdir, port, admin_port
        self.hookd = Hookd(workdir, yaml_text, env=env)
        self.paused = False

    @property
    def events(self):
        """The file plugin's output of node_config()."""
        return os.path.join(self.dir, "events.jsonl")

    def event_ids(self):
        return [e["id"] for e in read_lines(self.events)]

    @property
    def pid(self):
        return self.hookd.pid

    def alive(self):
        return self.hookd.alive()

    def start(self, timeout=20):
        self.paused = False
        self.hookd.start(timeout)
        return self

    def kill(self, sig=signal.SIGKILL):
        """Sends sig. SIGKILL also waits for the exit (and cleanup does not
        count it as a failure); other signals return at once."""
        if sig == signal.SIGKILL:
            self.paused = False
            return self.hookd.kill()
        if self.alive():
            self.hookd.proc.send_signal(sig)
            if sig == signal.SIGSTOP:
                self.paused = True
            elif sig == signal.SIGCONT:
                self.paused = False
        return None

    def stop(self):
        self.kill(signal.SIGSTOP)

    def cont(self):
        self.kill(signal.SIGCONT)

    def term(self, timeout=30):
        """SIGTERM (after a SIGCONT, so a paused node can act on it) and wait;
        returns the exit code."""
        if self.alive():
            self.hookd.proc.send_signal(signal.SIGCONT)
        self.paused = False
        return self.hookd.stop(timeout)

    def restart(self, timeout=20):
        """term() if running (a failed exit code raises), then start again on
        the same folder and ports."""
        if self.alive():
            rc = self.term()
            if rc != 0:
                raise AssertionError(f"{self.name} exited {rc} on SIGTERM:\n"
                                     + self.hookd.run_log()[-3000:])
        return self.start(timeout)

    def post(self, path, body: bytes, headers=None, **kw):
        """One request straight to this node (not through haproxy), signed
        like Cluster.post."""
        return self.hookd.send(request_bytes(body, path=path, headers=headers, close=True, **kw),
                               port=self.port)

    def ready(self):
        """The node's own /readyz answers 200 (not through haproxy)."""
        try:
            r = admin_get(self.admin_port, "/readyz", timeout=1)
        except OSError:
            return False
        return r is not None and r.status == 200

    def log_text(self):
        return self.hookd.log_text()


class Cluster:
    def __init__(self, template, n=3, pg=None, conninfo=None, env=None, inter="200ms",
                 fall=2, rise=1, check_timeout=None):
        """template: the nodes' YAML with the placeholders above. pg: an
        optional pgcluster.PgCluster (the caller owns it; conninfo defaults to
        pg.conninfo()). check_timeout: haproxy's `timeout check` (how long a
        /readyz answer may take); unset it is `inter`, under HOOKD_WRAP 2s."""
        if "@ADMIN_PORT@" not in template:
            raise ValueError("the node template needs an admin listener on @ADMIN_PORT@")
        self.template, self.n = template, n
        self.pg = pg
        self.conninfo = conninfo if conninfo is not None else (pg.conninfo() if pg else "")
        self.env = dict(env or {}, HOOKD_PG=self.conninfo)
        self.inter, self.fall, self.rise = inter, fall, rise
        self.check_timeout = check_timeout or ("2s" if SLOW > 1 else None)
        self.dir = None
        self.nodes = []
        self.port = None
        self.haproxy = None
        self.haproxy_log = None

    # ---- life cycle ----

    def start(self, timeout=20):
        """Starts every node, then haproxy; returns once haproxy's checks
        have found every node ready."""
        why = available()
        if why:
            raise unittest.SkipTest(why)
        self.dir = tempfile.mkdtemp(prefix="hookd-cluster-")
        try:
            ports = free_ports(2 * self.n + 1)
            self.port = ports[-1]
            for i in range(self.n):
                d = os.path.join(self.dir, f"node{i}")
                os.mkdir(d)
                node = Node(i, d, self._render(i, d, ports[2 * i], ports[2 * i + 1]),
                            ports[2 * i], ports[2 * i + 1], self.env)
                self.nodes.append(node)
                node.start(timeout)
            self._start_haproxy(timeout)
            for i in range(self.n):
                self.wait_ready(i, timeout)
        except BaseException:
            self.cleanup()
            raise
        return self

    def _render(self, i, workdir, port, admin_port):
        text = self.template
        for k, v in (("@PORT@", port), ("@ADMIN_PORT@", admin_port), ("@DIR@", workdir),
                     ("@NODE@", f"node{i}"), ("@INDEX@", i),
                     ("@CONNINFO@", json.dumps(self.conninfo))):
            text = text.replace(k, str(v))
        return text

    @property
    def stats_socket(self):
        return os.path.join(self.dir, "haproxy.sock")

    @property
    def haproxy_cfg(self):
        return os.path.join(self.dir, "haproxy.cfg")

    def haproxy_config(self):
        check_to = f"    timeout check {self.check_timeout}\n" if self.check_timeout else ""
        servers = "".join(f"    server {n.name} 127.0.0.1:{n.port} check port {n.admin_port}\n"
                          for n in self.nodes)
        return textwrap.dedent(f"""\
            global
                nbthread 1
                maxconn 512
                stats socket {self.stats_socket} mode 600 level admin

            defaults
                mode http
                timeout connect 1s
                timeout client 30s
                timeout server 30s
            """) + check_to + textwrap.dedent(f"""\

            frontend webhooks
                bind 127.0.0.1:{self.port}
                default_backend nodes

            backend nodes
                balance roundrobin
                option httpchk
                http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost
                http-check expect status 200
                http-response set-header {NODE_HEADER} %s
                default-server inter {self.inter} fall {self.fall} rise {self.rise}
            """) + servers

    def _start_haproxy(self, timeout):
        with open(self.haproxy_cfg, "w") as f:
            f.write(self.haproxy_config())
        check = subprocess.run([haproxy_bin(), "-c", "-q", "-f", self.haproxy_cfg],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise AssertionError("haproxy refuses the configuration:\n"
                                 + check.stdout + check.stderr + self.haproxy_config())
        self.haproxy_log = open(os.path.join(self.dir, "haproxy.log"), "ab")
        self.haproxy = subprocess.Popen([haproxy_bin(), "-db", "-f", self.haproxy_cfg],
                                        cwd=self.dir, stdout=self.haproxy_log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            if self.haproxy.poll() is not None:
                raise AssertionError(f"haproxy exited {self.haproxy.returncode}:\n"
                                     + self.haproxy_log_text())
            try:
                self.stats()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("haproxy's stats socket never answered:\n" + self.haproxy_log_text())

    def haproxy_log_text(self):
        try:
            with open(os.path.join(self.dir, "haproxy.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        """Ends every process and removes the folder. Returns the problems
        found: nodes that exited other than 0 on SIGTERM (a node SIGKILLed on
        purpose and not restarted is not one), as (name, code, log tail)."""
        problems = []
        for node in self.nodes:
            try:
                was_killed = node.hookd.killed and not node.alive()
                rc = node.term()
                if rc != 0 and not was_killed:
                    problems.append((node.name, rc, node.hookd.log_text()[-3000:]))
            except AssertionError as e:  # did not stop on SIGTERM (Hookd.stop killed it)
                problems.append((node.name, None, str(e)))
        if self.haproxy is not None:
            if self.haproxy.poll() is None:
                self.haproxy.terminate()
                try:
                    self.haproxy.wait(10)
                except subprocess.TimeoutExpired:
                    self.haproxy.kill()
                    self.haproxy.wait()
            self.haproxy = None
        if self.haproxy_log is not None:
            self.haproxy_log.close()
            self.haproxy_log = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        return problems

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    # ---- use ----

    def node(self, i):
        return self.nodes[i]

    def connect(self, timeout=10):
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout * SLOW)

    def send(self, raw: bytes):
        with self.connect() as s:
            s.sendall(raw)
            resp, _ = read_response(s)
            return resp

    def post(self, path, body: bytes, headers=None, **kw):
        """One request through haproxy on a connection of its own. Signed and
        with the Basic credentials of the harness's Constant Contact source
        unless told otherwise (kw goes to harness.request_bytes: sig, auth)."""
        return self.send(request_bytes(body, path=path, headers=headers, close=True, **kw))

    def stats(self):
        """haproxy's `show stat` for the nodes: {server name: row}, each row a
        dict of the CSV's columns (status, check_status, stot, hrsp_2xx...)."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.stats_socket)
            s.sendall(b"show stat\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        text = data.decode()
        if not text.startswith("# "):
            raise OSError(f"unexpected answer to show stat: {text[:200]!r}")
        rows = csv.DictReader(io.StringIO(text[2:]))
        return {r["svname"]: r for r in rows if r["pxname"] == "nodes"
                and r["svname"] not in ("BACKEND", "FRONTEND")}

    def status(self, i):
        """haproxy's word for node i: UP, DOWN, "UP 1/2" (going down)..."""
        return self.stats()[self.nodes[i].name]["status"]

    def wait_ready(self, i, timeout=20):
        """Until node i's /readyz answers 200 and haproxy has it UP after a
        check that passed."""
        name = self.nodes[i].name

        def up():
            row = self.stats()[name]
            return row["status"] == "UP" and row["check_status"] == "L7OK" and self.nodes[i].ready()
        wait_for(up, timeout, f"{name} ready and UP in haproxy", interval=0.05)

    def wait_out(self, i, timeout=10):
        """Until haproxy has taken node i out of the rotation (DOWN or MAINT)."""
        name = self.nodes[i].name
        wait_for(lambda: self.stats()[name]["status"].split()[0] in ("DOWN", "MAINT"), timeout,
                 f"haproxy to mark {name} down", interval=0.05)


class ClusterCase(unittest.TestCase):
    """Skips when haproxy is missing; every cluster a test made is cleaned up
    after it, and a node that exited other than 0 on SIGTERM fails the test."""

    def setUp(self):
        why = available()
        if why:
            self.skipTest(why)
        self.clusters = []

    def tearDown(self):
        problems = []
        for c in self.clusters:
            problems += c.cleanup()
        if problems:
            self.fail("".join(f"{name} exited {rc} on SIGTERM; log:\n{log}\n"
                              for name, rc, log in problems))

    def cluster(self, template=None, n=3, **kw):
        c = Cluster(template or node_config(), n=n, **kw)
        self.clusters.append(c)
        return c.start()
