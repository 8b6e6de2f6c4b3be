"""Starts the real hookd binary on a generated configuration and talks to it
over real sockets. Standard library only."""
import base64
import hashlib
import hmac
import json
import os
import re
import shlex
import signal
import socket
import ssl
import subprocess
import tempfile
import textwrap
import time
import unittest

_TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HOOKD = os.environ.get("HOOKD_BIN", os.path.join(_TOP, "build/hookd"))
PLUGIN_DIR = os.environ.get("HOOKD_PLUGIN_DIR", os.path.join(_TOP, "build/plugins"))
FIXTURE_DIR = os.environ.get("HOOKD_FIXTURE_DIR", os.path.join(_TOP, "build/tests/plugins"))
SOURCE_DIR = os.environ.get("HOOKD_SOURCE_DIR", _TOP)
VECTORS = os.environ.get("HOOKD_VECTORS", os.path.join(SOURCE_DIR, "tests/vectors"))
# A command that `hookd run` is started under, e.g. valgrind (make test-valgrind).
WRAP = shlex.split(os.environ.get("HOOKD_WRAP", ""))
SLOW = 10 if WRAP else 1  # how much longer waits may take under WRAP

SECRET = "api-secret-key"
USER, PASSWORD = "partner", "pa:ss:word"


def ctct_sig(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def basic(user=USER, password=PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def ctct_body(event_type="tier.increase", account="a07e1ih151d0") -> bytes:
    return json.dumps({"url": f"https://api.constantcontact.com/v2/partner/accounts/{account}/plan",
                       "event_type": event_type}, separators=(",", ":")).encode()


def request_bytes(body: bytes, path="/webhooks/ctct", method="POST", headers=None,
                  sig=True, auth=True, close=False) -> bytes:
    h = {"Host": "localhost", "Content-Type": "application/json",
         "Content-Length": str(len(body))}
    if auth:
        h["Authorization"] = basic()
    if sig:
        h["x-ctct-hmac-sha256"] = ctct_sig(body)
    if close:
        h["Connection"] = "close"
    if headers:
        h.update(headers)
    head = "".join(f"{k}: {v}\r\n" for k, v in h.items() if v is not None)
    return f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode() + body


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


def read_response(sock, buf=b""):
    """Reads one HTTP/1.1 response (Content-Length framed). Returns
    (Response, leftover) or (None, b"") if the peer closed first."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    if status == 100:
        return read_response(sock, rest)
    return Response(status, headers, rest[:n]), rest[n:]


def dribble(sock, data, give_up_s, wait_s=1.0):
    """Sends data a byte at a time, waiting up to wait_s after each byte for
    an answer; stops at the first bytes answered, at the peer's close, or
    after give_up_s. Returns (what was answered, seconds taken)."""
    start = time.monotonic()
    sock.settimeout(wait_s)
    got = b""
    for byte in data:
        if time.monotonic() - start > give_up_s:
            break
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        try:
            got = sock.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            pass
        break
    return got, time.monotonic() - start


def peer_closed(sock, timeout=5.0) -> bool:
    """True when the server closes the connection within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


class Hookd:
    """One hookd process on a configuration made from a YAML fragment."""

    def __init__(self, workdir, yaml_text, tls=False, env=None, preexec_fn=None):
        self.dir = workdir
        self.cfg = os.path.join(workdir, "hookd.yaml")
        self.write_config(yaml_text)
        self.tls = tls
        self.log_path = os.path.join(workdir, "hookd.log")
        self.env = dict(os.environ, **(env or {}))
        self.preexec_fn = preexec_fn  # runs in the child before exec (e.g. setrlimit)
        self.proc = None
        self.log = None
        self.log_offset = 0   # where this run's part of hookd.log begins
        self.killed = False   # SIGKILLed on purpose and not started since
        self.ports = []

    def write_config(self, yaml_text):
        """Replaces the configuration; the next start() uses it."""
        with open(self.cfg, "w") as f:
            f.write(yaml_text)

    def start(self, timeout=20):
        """Starts hookd (again, after a stop() or kill(): same dir, same log
        file, appended to) and waits for this run's "ready:" line."""
        if self.proc is not None and self.proc.poll() is None:
            raise AssertionError("hookd is already running")
        self._close_log()
        self.log = open(self.log_path, "ab")
        self.log_offset = os.fstat(self.log.fileno()).st_size
        self.killed = False
        self.ports = []
        self.proc = subprocess.Popen([*WRAP, HOOKD, "run", "-c", self.cfg], cwd=self.dir,
                                     stdout=self.log, stderr=self.log, env=self.env,
                                     preexec_fn=self.preexec_fn)
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            text = self.run_log()
            if "ready:" in text:
                self.ports = [int(p) for p in re.findall(r"listening on https?://\S+:(\d+)", text)]
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"hookd exited {self.proc.returncode}:\n{text}")
            time.sleep(0.05)
        raise AssertionError("hookd did not start:\n" + self.run_log())

    @property
    def port(self):
        return self.ports[0]

    def log_text(self):
        """The whole log file, every run in this folder."""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def run_log(self):
        """The log of the current (or last) run only."""
        with open(self.log_path, "rb") as f:
            f.seek(self.log_offset)
            return f.read().decode("utf-8", "replace")

    def _close_log(self):
        if self.log is not None and not self.log.closed:
            self.log.close()

    def stop(self, timeout=30):
        """SIGTERM; returns the exit code (sanitizer reports make it non-zero).
        A process that already exited just gives its exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is not None:
            self._close_log()
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._close_log()
            raise AssertionError("hookd did not stop on SIGTERM:\n" + self.run_log()[-3000:])
        self._close_log()
        return rc

    def kill(self, timeout=30):
        """SIGKILL and wait; returns the exit code (-9 when the signal did it).
        Until the next start(), HookdCase.tearDown does not count this exit as
        a failure."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
            self.killed = True
        rc = self.proc.wait(timeout)
        self._close_log()
        return rc

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def connect(self, port=None, timeout=10):
        s = socket.create_connection(("127.0.0.1", port or self.port), timeout=timeout)
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s)
        return s

    def send(self, raw: bytes, port=None):
        with self.connect(port) as s:
            s.sendall(raw)
            resp, _ = read_response(s)
            return resp

    def post(self, body: bytes, **kw):
        return self.send(request_bytes(body, **kw))


def wait_for(pred, timeout=10.0, what="condition", interval=0.05, log=None):
    """pred's first true value; on a timeout, AssertionError naming `what`
    and ending with the last 4000 characters of log() when given."""
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    tail = f"; log:\n{log()[-4000:]}" if log else ""
    raise AssertionError(f"timed out waiting for {what}{tail}")


def read_lines(path):
    """The JSON lines written so far. A line still being written (no newline
    yet: a reader can see part of a concurrent write) is left for next time."""
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.endswith("\n") and line.strip()]
    except FileNotFoundError:
        return []


def make_cert(workdir):
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def base_config(workdir, extra_server="", sources=None, plugins=None, routes=None,
                top="", listen='["127.0.0.1:0"]'):
    events = os.path.join(workdir, "events.jsonl")
    sources = sources or textwrap.dedent(f"""\
      - name: constantcontact
        path: /webhooks/ctct
        auth: {{ basic: {{ username: {USER}, password: "{PASSWORD}" }} }}
        verify: {{ scheme: ctct-hmac-sha256, secret: "{SECRET}" }}
        event_type: /event_type
    """)
    plugins = plugins or textwrap.dedent(f"""\
      - name: audit
        use: file
        config: {{ path: {events} }}
    """)
    routes = routes or '  - { match: "*", to: [audit] }\n'
    return (f"server:\n  listen: {listen}\n{extra_server}"
            f"log: {{ level: debug, format: text }}\nplugin_dir: {PLUGIN_DIR}\n{top}"
            f"sources:\n{textwrap.indent(sources, '  ')}"
            f"plugins:\n{textwrap.indent(plugins, '  ')}"
            f"routes:\n{routes}")


class HookdCase(unittest.TestCase):
    """A temporary folder per test; every started hookd must stop cleanly."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="hookd-test-")
        self.dir = self._tmp.name
        self.events = os.path.join(self.dir, "events.jsonl")
        self.procs = []

    def tearDown(self):
        try:
            for h in self.procs:
                if h.killed:  # SIGKILLed on purpose and never restarted
                    h.stop()
                    continue
                rc = h.stop()
                self.assertEqual(rc, 0, "hookd exit code after SIGTERM; log:\n" + h.log_text()[-4000:])
        finally:
            self._tmp.cleanup()

    def hookd(self, yaml_text=None, tls=False, env=None, preexec_fn=None, start_timeout=20,
              **kw):
        h = Hookd(self.dir, yaml_text or base_config(self.dir, **kw), tls=tls, env=env,
                  preexec_fn=preexec_fn)
        self.procs.append(h)
        return h.start(start_timeout)

    def run_cli(self, *args, input=None, env=None):
        return subprocess.run([HOOKD, *args], cwd=self.dir, input=input, capture_output=True,
                              env=dict(os.environ, **(env or {})), timeout=60)


def make_cert_files(workdir, name, days, cn="localhost"):
    """A self-signed P-256 certificate valid for `days` and its key, as
    NAME.crt and NAME.key in workdir."""
    cert, key = os.path.join(workdir, name + ".crt"), os.path.join(workdir, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", str(days), "-subj", f"/CN={cn}"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def cert_not_after(path) -> int:
    """A PEM certificate's notAfter, in Unix seconds."""
    out = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", path], check=True,
                         capture_output=True, text=True).stdout
    return int(ssl.cert_time_to_seconds(out.strip().split("=", 1)[1]))


def cert_der(path) -> bytes:
    """The first certificate of a PEM file, DER-encoded."""
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def peer_cert_der(sock) -> bytes:
    """The certificate a TLS socket's server presented, DER-encoded."""
    return sock.getpeercert(binary_form=True)
