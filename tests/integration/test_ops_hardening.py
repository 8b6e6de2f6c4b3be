"""Issue 15's operations items, as an operator meets them: the admin
listener answers its probes whatever idle or slow connections are open."""
import socket
import time
import unittest

from harness import HookdCase, base_config
from test_admin import admin_get, admin_port


class AdminProbes(HookdCase):
    def test_idle_connections_do_not_starve_probes(self):
        h = self.hookd(base_config(self.dir, top='admin: { listen: "127.0.0.1:0" }\n'))
        port = admin_port(h)
        held = []
        try:
            for i in range(64):
                s = socket.create_connection(("127.0.0.1", port))
                if i % 4 == 0:
                    s.sendall(b"GET /heal")  # a slow sender, never finishing
                held.append(s)
            time.sleep(0.2)
            for _ in range(20):
                t0 = time.monotonic()
                r = admin_get(port, "/healthz")
                self.assertEqual(r.status, 200, r)
                self.assertLess(time.monotonic() - t0, 2.0)
        finally:
            for s in held:
                s.close()


if __name__ == "__main__":
    unittest.main()
