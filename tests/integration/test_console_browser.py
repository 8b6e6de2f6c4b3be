"""The admin console in a real browser (docs/console.md): headless Chromium
driven by selenium signs in with #token=, lists the events posted, opens one
by its deep link and sees its attempts, replays a dead letter from the page
and sees it delivered, shows a body holding HTML as text with no script run,
and logs no error (a JS error or a Content-Security-Policy violation fails
the test). It also saves the screenshot the README shows when
HOOKD_SCREENSHOT names a file."""
import json
import os
import shutil
import sys
import textwrap
import time
import unittest
import urllib.request

from harness import HookdCase, base_config, ctct_body, request_bytes, wait_for
from cluster import free_ports

try:
    from selenium import webdriver
except ImportError:  # a non-Debian python3 (pyenv) next to Debian's python3-selenium
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from selenium import webdriver
    except ImportError:
        webdriver = None
if webdriver:
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
TOKEN = "console-test-token-3f9a"
XSS = "<img src=x onerror=window.__pwned=1>"


def browser():
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,900", "--disable-extensions"):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(DRIVER), options=o)


@unittest.skipUnless(webdriver and CHROMIUM and DRIVER,
                     "chromium, chromium-driver and python3-selenium are needed")
class ConsoleInBrowser(HookdCase):
    def setUp(self):
        super().setUp()
        self.admin_port = free_ports(1)[0]
        self.okfile = os.path.join(self.dir, "downstream-up")
        plugins = textwrap.dedent(f"""\
          - name: audit
            use: file
            config: {{ path: {self.events} }}
          - name: flaky
            use: exec
            config: {{ command: ["/bin/sh", "-c", "test -e {self.okfile}"] }}
        """)
        routes = ('  - { match: "tier.*", to: [audit] }\n'
                  '  - { match: "flaky.*", to: [flaky] }\n')
        top = f'admin: {{ listen: "127.0.0.1:{self.admin_port}", token: "{TOKEN}" }}\n'
        self.h = self.hookd(base_config(self.dir, plugins=plugins, routes=routes, top=top))
        self.base = f"http://127.0.0.1:{self.admin_port}/"
        self.driver = browser()
        self.addCleanup(self.driver.quit)

    def api(self, path, body=None):
        req = urllib.request.Request(self.base + "api/v1/" + path,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + TOKEN,
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def post(self, event_type, account, extra=None):
        body = json.loads(ctct_body(event_type, account=account))
        body.update(extra or {})
        r = self.h.post(json.dumps(body).encode())
        self.assertEqual(r.status, 200, r)
        return r.json()["id"]

    def ready(self, view):
        d = self.driver
        wait_for(lambda: d.find_element(By.TAG_NAME, "body").get_attribute("data-view") == view
                 and d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1",
                 timeout=10, what=f"the {view} view rendered")

    def no_errors(self):
        logs = [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]
        self.assertEqual(logs, [], "the browser logged errors")

    def test_console(self):
        d = self.driver
        ids = [self.post("tier.increase", f"acct{i}") for i in range(3)]
        xss = self.post("tier.decrease", "xss", {"note": XSS})
        dead = self.post("flaky.run", "flaky1")
        wait_for(lambda: self.api("dead")["dead"], what="a dead letter")

        # Signed in from the address: the token leaves the address bar at once.
        d.get(self.base + "#token=" + TOKEN)
        self.ready("overview")
        self.assertNotIn(TOKEN, d.current_url)
        self.assertEqual(d.execute_script("return sessionStorage.getItem('hookd.token')"), TOKEN)
        self.assertEqual(d.get_cookies(), [])

        # A fresh page load (the token is in sessionStorage), to time it.
        d.get("about:blank")
        d.get(self.base + "#/events")
        self.ready("events")
        rows = {r.get_attribute("data-id") for r in
                d.find_elements(By.CSS_SELECTOR, "#events-list tr.event[data-id]")}
        self.assertLessEqual(set(ids + [xss, dead]), rows)
        took = d.execute_script("const m = performance.getEntriesByName('hookd-list');"
                                " return m.length ? m[0].startTime : null")
        print(f"\nconsole: first list rendered {took} ms after navigation", file=sys.stderr)

        # A deep link to the event with HTML in its body: shown as text.
        d.get(self.base + "#/events/" + xss)
        self.ready("event")
        detail = d.find_element(By.ID, "event-detail")
        self.assertIn(XSS, detail.text)
        self.assertEqual(detail.find_elements(By.TAG_NAME, "img"), [])
        self.assertIsNone(d.execute_script("return window.__pwned"))
        self.assertTrue(detail.find_elements(By.CSS_SELECTOR, ".delivery[data-id] tr.attempt"))

        # The dead letter, replayed from the page once the downstream is up.
        open(self.okfile, "w").close()
        d.get(self.base + "#/dead")
        self.ready("dead")
        box = d.find_element(By.CSS_SELECTOR, "#dead-list input.dead[data-delivery]")
        box.click()
        d.find_element(By.ID, "replay-selected").click()
        wait_for(lambda: not self.api("dead")["dead"], timeout=15, what="the dead letter replayed")
        wait_for(lambda: self.api("events/" + dead)["deliveries"][0]["state"] == "delivered",
                 timeout=15, what="the replayed delivery delivered")
        # The page shows it too (it refreshes itself every few seconds).
        d.get(self.base + "#/events/" + dead)
        self.ready("event")
        wait_for(lambda: "delivered" in d.find_element(By.ID, "event-detail").text, timeout=10,
                 what="the page showing the delivery delivered")

        # A refused request (a forged signature) shows among the refusals.
        forged = self.h.send(request_bytes(ctct_body("tier.increase", account="forged"),
                                           headers={"x-ctct-hmac-sha256": "AAAA"}))
        self.assertEqual(forged.status, 401, forged)
        d.get(self.base + "#/refusals")
        self.ready("refusals")
        wait_for(lambda: any("signature" in r.text for r in
                             d.find_elements(By.CSS_SELECTOR, "#refusals-list tr.refusal")),
                 timeout=10, what="the forged request among the refusals")
        d.get(self.base + "#/")
        self.ready("overview")
        shot = os.environ.get("HOOKD_SCREENSHOT")
        if shot:
            time.sleep(0.5)
            d.save_screenshot(shot)
        self.no_errors()
