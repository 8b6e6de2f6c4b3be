"""Issue 15's plugin items, as a sender or an operator meets them: a
templated URL segment stays that segment (dots included), and event types
that are only dots are refused at the door."""
import json
import unittest

from harness import ctct_body
from test_forward import ForwardCase, instance


def body_with(event_type="tier.increase", **extra) -> bytes:
    d = json.loads(ctct_body(event_type))
    d.update(extra)
    return json.dumps(d, separators=(",", ":")).encode()


class UrlSegments(ForwardCase):
    def test_dot_segments_from_templates_stay_segments(self):
        sink = self.sink()
        fwd = instance("fwd", {"url": sink.url("/events/{{json./seg}}/deliver"), "body": "raw"})
        h = self.start(fwd, ["fwd"])
        for seg in ("..", ".", "a.b"):
            self.post(h, body_with(seg=seg))
        paths = sorted(r["path"] for r in sink.got(3))
        self.assertEqual(paths, ["/events/%2E%2E/deliver", "/events/%2E/deliver",
                                 "/events/a.b/deliver"])

    def test_types_of_dots_are_refused(self):
        h = self.start(instance("fwd", {"url": "http://127.0.0.1:9/", "body": "raw"}), ["fwd"])
        for t in (".", "..", "..."):
            r = h.post(ctct_body(t))
            self.assertEqual(r.status, 400, r)
            self.assertIn("event type", r.json()["error"])


if __name__ == "__main__":
    unittest.main()
