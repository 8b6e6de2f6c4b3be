"""Shared by the abuse tests (test_abuse_load.py, test_abuse_wire.py): the
sanitizer and valgrind allowances, RSS and fd probes, and clients that play a
hostile or broken sender."""
import errno
import os
import re
import select
import socket
import ssl
import time

from harness import HOOKD, SLOW, WRAP, ctct_body, ctct_sig, read_response, request_bytes


def _sanitized(path):
    """True when the binary is built with AddressSanitizer (gcc links
    libasan.so; clang links the runtime in: both leave __asan_init)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"__asan_init" in data or b"libasan.so" in data


ASAN = _sanitized(HOOKD)
# How much slower the daemon is: sanitizers (and HOOKD_WRAP, e.g. valgrind).
SLOWER = max(SLOW, 3 if ASAN else 1)
MiB = 1 << 20

# Under ASan every freed block waits in a quarantine (256 MiB by default)
# before it is reused, so RSS grows with the bytes freed, not with the bytes
# kept. The memory tests cap it: ASan stays on, and growth means something.
ASAN_ENV = ({"ASAN_OPTIONS": ":".join(filter(None, [os.environ.get("ASAN_OPTIONS", ""),
                                                     "quarantine_size_mb=8"]))}
            if ASAN else None)

# Small timeouts so the slow cases finish quickly.
TIMEOUTS = "  timeouts: { header: 2s, body: 2s, idle: 5s }\n"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def assert_rss_growth(case, before, after, limit_kib, what):
    """VmRSS grew by less than limit_kib. Under HOOKD_WRAP (valgrind) the
    process measured is the tool's, so there is nothing to compare."""
    if not WRAP:
        case.assertLess(after - before, limit_kib, f"{what}: VmRSS {before} -> {after} KiB")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def bad_sig_request(i=0):
    body = ctct_body("tier.increase", account=f"acct{i % 97}")
    return request_bytes(body, headers={"x-ctct-hmac-sha256": ctct_sig(body, "not-the-secret")})


def alive_and_serving(case, h, **kw):
    """The daemon still runs and still accepts a genuine notification."""
    case.assertTrue(h.alive(), "hookd died:\n" + h.run_log()[-3000:])
    r = h.post(ctct_body(**kw))
    case.assertIsNotNone(r, "closed without an answer")
    case.assertEqual(r.status, 200, r)
    return r


def wait_closed(sock, timeout):
    """Seconds until the peer closed the connection, or None if it did not
    within timeout. Whatever the peer answered meanwhile is returned too."""
    start = time.monotonic()
    got = b""
    sock.settimeout(0.25)
    while time.monotonic() - start < timeout:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start, got
        if not data:
            return time.monotonic() - start, got
        got += data
    return None, got



def count_answers(sock, n):
    """Reads n Content-Length framed answers; returns {status: count}."""
    buf, pos, got, statuses = bytearray(), 0, 0, {}
    while got < n:
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0:
            if pos > MiB:
                del buf[:pos]
                pos = 0
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
            continue
        head = bytes(buf[pos:end]).decode("latin-1")
        m = re.search(r"(?im)^content-length:\s*(\d+)", head)
        after = end + 4 + (int(m.group(1)) if m else 0)
        while len(buf) < after:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
        if len(buf) < after:
            break
        status = int(head.split(" ", 2)[1])
        statuses[status] = statuses.get(status, 0) + 1
        got += 1
        pos = after
    return statuses


# ---------- TLS ----------

ADMIN = 'admin: { listen: "127.0.0.1:0" }\n'


def tls_failures(h):
    m = re.search(r"admin listening on http://127\.0\.0\.1:(\d+)", h.run_log())
    if not m:
        raise AssertionError("no admin listening line:\n" + h.run_log())
    with socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=10) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        r, _ = read_response(s)
    m = re.search(rb"^hookd_tls_handshake_failures_total (\d+)$", r.body, re.M)
    if not m:
        raise AssertionError("no hookd_tls_handshake_failures_total in /metrics")
    return int(m.group(1))


def client_hello():
    """The first flight of a real TLS client, captured without a network."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    assert hello[:1] == b"\x16" and len(hello) > 100, hello[:16]
    return hello


class Streamed:
    def __init__(self):
        self.sent = 0
        self.response = None
        self.error = None
        self.closed = False

    def __repr__(self):
        return (f"<sent {self.sent / MiB:.1f} MiB, answer {self.response!r}, "
                f"error {self.error}, closed {self.closed}>")


def stream_until_answer(sock, piece, total, deadline_s=60):
    """Sends piece repeatedly, up to total bytes, while watching for the
    answer; stops at the answer, at a send error, or at the peer's close.
    Then reads whatever answer there is."""
    out = Streamed()
    sock.setblocking(False)
    buf = b""
    view, off = memoryview(piece), 0
    end = time.monotonic() + deadline_s
    try:
        while out.sent < total and time.monotonic() < end:
            r, w, _ = select.select([sock], [sock], [], 1.0)
            if r:
                try:
                    data = sock.recv(65536)
                except (ConnectionResetError, BrokenPipeError) as e:
                    out.error = e.__class__.__name__
                    break
                if not data:
                    out.closed = True
                    break
                buf += data
                if b"\r\n\r\n" in buf:
                    break
            if w:
                try:
                    n = sock.send(view[off:])
                except BlockingIOError:
                    continue
                except (ConnectionResetError, BrokenPipeError) as e:
                    out.error = e.__class__.__name__
                    break
                except OSError as e:
                    if e.errno in (errno.EPIPE, errno.ECONNRESET):
                        out.error = errno.errorcode[e.errno]
                        break
                    raise
                out.sent += n
                off += n
                if off == len(piece):
                    off = 0
    finally:
        sock.setblocking(True)
        sock.settimeout(5)
    try:
        out.response, _ = read_response(sock, buf)
    except (ConnectionResetError, BrokenPipeError, socket.timeout) as e:
        out.error = out.error or e.__class__.__name__
        if buf:  # an answer cut short: parse what there is
            try:
                out.response, _ = read_response(_Replay(buf), b"")
            except Exception:
                pass
    return out


class _Replay:
    def __init__(self, data):
        self.data = data

    def recv(self, n):
        d, self.data = self.data[:n], self.data[n:]
        return d


