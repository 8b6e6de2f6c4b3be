"""Helpers of test_jws.py: keys and signatures made with jwcrypto
(independently of hookd), hostile JWS headers built by hand, and a key set
server the tests start, stop, break and change."""
import base64
import http.server
import json
import socket
import ssl
import sys
import textwrap
import threading
import time

try:
    from jwcrypto import jwk, jws
    from jwcrypto.jwa import JWA
except ImportError:  # a non-Debian python3 (pyenv) next to Debian's python3-jwcrypto
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from jwcrypto import jwk, jws
        from jwcrypto.jwa import JWA
    except ImportError:
        jwk = jws = JWA = None

from harness import PASSWORD, USER

NEED_JWCRYPTO = "jwcrypto is not installed (apt-get install python3-jwcrypto)"

SRC = "ctct3"
PATH = "/webhooks/ctct3"
HDR = "X-CTCT-WEBHOOK-SIG"
ADMIN = 'admin: { listen: "127.0.0.1:0" }\n'
SPOOL = "spool: { path: spool.db, sync: normal }\n"
KEEP = "spool.db.ctct3.jwks.json"  # <spool.path>.<source>.jwks.json, beside the spool


def v3_body(event_type="tier.increase", account="a07e1ih151d0") -> bytes:
    return json.dumps({"url": f"https://api.cc.email/v3/partner/accounts/{account}/plan",
                       "api_key": "sample-api-key", "event_type": event_type},
                      separators=(",", ":")).encode()


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_dec(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ---- keys (made once: RSA generation is slow) -------------------------------

_KEYS = {}


def key(name):
    """k1, k2, k3: RSA 2048 with that kid; k1-other: another RSA key also
    named k1; e1: EC P-256."""
    if name not in _KEYS:
        if name == "e1":
            _KEYS[name] = jwk.JWK.generate(kty="EC", crv="P-256", kid="e1")
        else:
            _KEYS[name] = jwk.JWK.generate(kty="RSA", size=2048, kid=name.split("-")[0])
    return _KEYS[name]


def jwks_doc(*names) -> bytes:
    ks = jwk.JWKSet()
    for n in names:
        ks.add(jwk.JWK(**json.loads(key(n).export_public())))
    return ks.export(private_keys=False).encode()


def now_s() -> int:
    return int(time.time())


def early_in_second():
    """Waits until early in a wall-clock second, so that hookd's "now" (a
    few ms later) is the same second as the one a timestamp was made from."""
    frac = time.time() % 1
    if frac > 0.7:
        time.sleep(1.02 - frac)


def sign(k, body: bytes, alg="RS256", kid="", ts=None) -> str:
    """The header value, the way a sender makes it: jwcrypto with b64 false,
    crit [b64], the payload detached. kid "" means the key's own kid; None
    means no kid."""
    hdr = {"alg": alg, "b64": False, "crit": ["b64"], "ts": now_s() if ts is None else ts}
    kid = k.get("kid") if kid == "" else kid
    if kid is not None:
        hdr["kid"] = kid
    s = jws.JWS(body)
    s.add_signature(k, alg=None, protected=json.dumps(hdr))
    s.detach_payload()
    return s.serialize(compact=True)


def raw_sign(k, body: bytes, header: dict, alg=None, middle="") -> str:
    """A compact JWS made by hand from any header: BASE64URL(header) "."
    middle "." BASE64URL(signature over BASE64URL(header) "." body), signed
    with jwcrypto's algorithm `alg` (default the header's) and key k."""
    prot = b64u(json.dumps(header).encode())
    sig = JWA.signing_alg(alg or header["alg"]).sign(k, prot.encode() + b"." + body)
    return f"{prot}.{middle}.{b64u(sig)}"


def good_header(**over):
    h = {"alg": "RS256", "b64": False, "crit": ["b64"], "ts": now_s(), "kid": "k1"}
    for k, v in over.items():
        if v is None:
            h.pop(k, None)
        else:
            h[k] = v
    return h


def jwcrypto_verify(value: str, body: bytes, public) -> dict:
    """Checks a detached, unencoded compact JWS with jwcrypto alone and
    returns its protected header. jwcrypto 1.1 has no detached_payload
    argument: the payload is put back into the parsed object, and jwcrypto
    builds the signing input BASE64URL(protected) "." body itself (b64 false)."""
    obj = jws.JWS()
    obj.deserialize(value)
    assert obj.objects.get("b64") is False, obj.objects
    obj.objects["payload"] = body
    obj.verify(public)  # raises InvalidJWSSignature
    return json.loads(obj.objects["protected"])


def read_json(path):
    with open(path, "rb") as f:
        return json.loads(f.read())


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class KeyServer:
    """GET /jwks.json on 127.0.0.1 (port 0, or a port given), in a thread.
    `doc` and `status` say what it answers; `gets` records when each request
    came; stop() and start() again keep the port."""

    def __init__(self, doc=b"", port=0, cert=None, start=True):
        self.doc, self.status, self.port, self.cert = doc, 200, port, cert
        self.gets = []
        self.lock = threading.Lock()
        self.server = None
        if start:
            self.start()

    def start(self):
        ks = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with ks.lock:
                    ks.gets.append(time.monotonic())
                    status, doc = ks.status, ks.doc
                if self.path != "/jwks.json":
                    status, doc = 404, b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(doc)))
                self.end_headers()
                self.wfile.write(doc)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def get_request(self):
                sock, addr = self.socket.accept()
                if ks.cert:
                    sock = ctx.wrap_socket(sock, server_side=True)
                return sock, addr

            def handle_error(self, request, client_address):
                pass

        if self.cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.cert)
        self.server = Server(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def serve(self, *names):
        with self.lock:
            self.doc, self.status = jwks_doc(*names), 200

    def ngets(self):
        with self.lock:
            return len(self.gets)

    def url(self, host="127.0.0.1", scheme="http"):
        return f"{scheme}://{host}:{self.port}/jwks.json"


def source(verify, name=SRC, path=PATH):
    return textwrap.dedent(f"""\
      - name: {name}
        path: {path}
        auth: {{ basic: {{ username: {USER}, password: "{PASSWORD}" }} }}
        verify: {verify}
    """)
