"""sd_notify: hookd run tells a service manager READY=1 once it listens and
STOPPING=1 when SIGTERM begins the stop, over the datagram socket named by
NOTIFY_SOCKET (a path, or '@' for the abstract namespace)."""
import os
import signal
import socket
import unittest

from harness import HookdCase, ctct_body


class NotifyTest(HookdCase):
    def notify_socket(self, abstract=False):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        if abstract:
            name = f"hookd-test-notify-{os.getpid()}-{id(self)}"
            s.bind("\0" + name)
            addr = "@" + name
        else:
            addr = os.path.join(self.dir, "notify.sock")
            s.bind(addr)
        s.settimeout(20)
        return s, addr

    @staticmethod
    def fields(msg: bytes):
        out = {}
        for line in msg.decode().split("\n"):
            if line:
                k, _, v = line.partition("=")
                out[k] = v
        return out

    def recv_until(self, s, key):
        seen = []
        while True:
            f = self.fields(s.recv(4096))
            seen.append(f)
            if key in f:
                return f, seen

    def check_ready_and_stopping(self, abstract):
        s, addr = self.notify_socket(abstract)
        h = self.hookd(env={"NOTIFY_SOCKET": addr})
        f, _ = self.recv_until(s, "READY")
        self.assertEqual(f["READY"], "1")
        self.assertIn("ready", f.get("STATUS", ""))
        # READY means listening: a request succeeds straight away.
        r = h.post(ctct_body())
        self.assertEqual(r.status, 200, r)
        h.proc.send_signal(signal.SIGTERM)
        f, _ = self.recv_until(s, "STOPPING")
        self.assertEqual(f["STOPPING"], "1")
        h.proc.wait(30)  # one SIGTERM only: a second one during the stop may end it
        self.assertEqual(h.stop(), 0, h.log_text()[-3000:])

    def test_ready_and_stopping_path(self):
        self.check_ready_and_stopping(abstract=False)

    def test_ready_and_stopping_abstract(self):
        self.check_ready_and_stopping(abstract=True)

    def test_ready_arrives_after_listening(self):
        s, addr = self.notify_socket()
        h = self.hookd(env={"NOTIFY_SOCKET": addr})
        self.recv_until(s, "READY")
        self.assertIn("listening on", h.run_log())

    def test_unreachable_notify_socket_is_harmless(self):
        h = self.hookd(env={"NOTIFY_SOCKET": os.path.join(self.dir, "nobody-listens")})
        self.assertEqual(h.post(ctct_body()).status, 200)


if __name__ == "__main__":
    unittest.main()
