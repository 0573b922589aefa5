#!/usr/bin/env python3
"""A passkey in a real browser approves Cloister actions, end to end.

This script plays the integrator's backend (trusted): it reads the enclave's boot, deployment and HPKE key from
GET /v1/attestation, seals each request to that key (pyhpke, cbor2), and drives headless Chromium with a virtual
authenticator (Selenium) on pages served from web/ by a local http.server, calling web/cloister-passkey.js for the
passkey's part. Verifying the attestation document, and the signed responses, is the Swift client's job
(CloisterClient) and is not done here: this test is about the browser module and the passkey wire.

Flow: the JS action encoding against cbor2; a passkey registered; tenant TENANT's first credential made with it
(credential.add approved by the passkey itself); key.create of an ed25519 key and key.sign of a message, each
approved by the passkey; the sealed result opened and the signature verified (cryptography) against the public key
key.describe gives; then refusals: the same assertion attached to an altered body, and an assertion made on a page
of an origin the tenant does not list.

Usage: passkey_flow.py --url URL [--tenant acme] (the tenant's bearer token in $CLOISTER_TOKEN or --token).
Exit status: 0 when every expectation held; 1 when one failed; 2 for usage errors; 3 when Chromium or its driver is
missing. Scripts/bootstrap installs everything this needs.
"""

import argparse
import base64
import functools
import hashlib
import http.server
import io
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

try:
    import cbor2
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key
    from pyhpke import AEADId, CipherSuite, KDFId, KEMId
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.virtual_authenticator import Protocol, Transport, VirtualAuthenticatorOptions
except ImportError as e:
    print(f"FAIL setup: python3 lacks a package this test needs ({e}); run Scripts/bootstrap", flush=True)
    sys.exit(1)

SUITE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM)
RP_ID = "localhost"
KEY_NAME = "browser-signer"
MESSAGE = b"pay 10 to bob"
ALTERED = b"pay 99 to eve"


class Abort(Exception):
    """An expectation failed that the rest of the flow depends on."""


class Transcript:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def step(self, title):
        print(f"\n==> {title}", flush=True)

    def info(self, line):
        print(f"    {line}", flush=True)

    def check(self, ok, tag, what, fatal=False):
        if ok:
            self.passed += 1
            print(f"PASS {tag}: {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {tag}: {what}", flush=True)
            if fatal:
                raise Abort(f"{tag}: {what}")
        return ok


def b64(b):
    return base64.b64encode(b).decode()


def unb64(s):
    """Standard base64 with padding, as the JS module writes it; anything else is an error."""
    return base64.b64decode(s, validate=True)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sha256(b):
    return hashlib.sha256(b).digest()


def action_bytes(f):
    """The action array, encoded by cbor2 (an encoder independent of the JS module's and of Swift's)."""
    return cbor2.dumps(["cloister-action/1", f["deployment"], f["boot"], f["tenant"], f["operation"], f["requestID"],
                        f["requestHash"], f["expiry"]])


def as_js(f):
    """Action fields as the JS module takes them (bytes as base64)."""
    return {k: b64(v) if isinstance(v, bytes) else v for k, v in f.items()}


# The enclave's side of the wire.

class Enclave:
    def __init__(self, url, token, tenant):
        self.url = url.rstrip("/") + "/"
        self.token = token
        self.tenant = tenant

    def http(self, method, path, body=None, headers=None, auth=True):
        request = urllib.request.Request(self.url + path, data=body, method=method)
        if auth:
            request.add_header("Authorization", "Bearer " + self.token)
        for k, v in (headers or {}).items():
            request.add_header(k, v)
        if body is not None:
            request.add_header("Content-Type", "application/octet-stream")
        try:
            with urllib.request.urlopen(request, timeout=60) as r:
                return r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers

    def identity(self):
        """boot, deployment and HPKE key from a fresh document's user_data (parsed, not verified)."""
        status, body, _ = self.http("GET", "v1/attestation?nonce=" + secrets.token_hex(16), auth=False)
        if status != 200:
            raise Abort(f"GET /v1/attestation answered {status}: {body[:200]!r}")
        cose = cbor2.loads(body)
        if isinstance(cose, cbor2.CBORTag):
            cose = cose.value
        payload = cbor2.loads(cose[2])
        claims = cbor2.loads(payload["user_data"])
        for k in ("hpke", "deployment", "boot"):
            if not isinstance(claims.get(k), bytes) or len(claims[k]) != 32:
                raise Abort(f"the document's user_data has no 32-byte {k}: {sorted(claims)}")
        return claims

    def call(self, op, request_id, body):
        """POSTs a sealed request; waits while it is pending. Returns (status, result bytes)."""
        headers = {"Cloister-Request-Id": request_id}
        status, data, h = self.http("POST", "v1/call/" + op, body, headers)
        deadline = time.monotonic() + 120
        while status == 202 and time.monotonic() < deadline:
            time.sleep(0.2)
            status, data, h = self.http("GET", "v1/requests/" + request_id)
        if status != 200:
            raise Abort(f"{op}: HTTP {status}: {data[:300]!r}")
        response = cbor2.loads(data)
        receipt = cbor2.loads(response["receipt"])
        header = h.get("Cloister-Status")
        if header != receipt.get("status"):
            raise Abort(f"{op}: Cloister-Status {header!r} but the receipt says {receipt.get('status')!r}")
        return header, response["result"]


class SealedCall:
    """One request sealed to the boot's HPKE key, with the action its approvals sign (as the Swift SealedCall)."""

    def __init__(self, identity, tenant, op, body, request_id=None):
        self.op = op
        self.request_id = request_id or "browser-" + secrets.token_hex(8)
        self.reply = x25519.X25519PrivateKey.generate()
        reply_public = self.reply.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        deployment, boot = identity["deployment"], identity["boot"]
        info = cbor2.dumps(["cloister-request/1", deployment, tenant, op, self.request_id])
        inner = cbor2.dumps({"body": body, "reply": reply_public})
        self.enc, sender = SUITE.create_sender_context(SUITE.kem.deserialize_public_key(identity["hpke"]), info)
        self.ct = sender.seal(inner)
        self.boot = boot
        self.expiry = int(time.time() * 1000) + 300_000
        sealed_hash = sha256(cbor2.dumps(["cloister-sealed-request/1", boot, self.enc, self.ct, self.expiry]))
        self.fields = {"deployment": deployment, "boot": boot, "tenant": tenant, "operation": op,
                       "requestID": self.request_id, "requestHash": sealed_hash, "expiry": self.expiry}
        self.digest = sha256(action_bytes(self.fields))
        self.result_info = cbor2.dumps(["cloister-result/1", deployment, tenant, op, self.request_id])

    def body(self, approvals):
        request = {"v": 1, "boot": self.boot, "enc": self.enc, "ct": self.ct, "expiry": self.expiry}
        if approvals:
            request["approvals"] = approvals
        return cbor2.dumps(request)

    def open(self, result):
        """The plaintext of a sealed result, or the result as it is when it is not sealed (an early refusal)."""
        try:
            sealed = cbor2.loads(result)
            if not (isinstance(sealed, dict) and sealed.get("v") == 1):
                return result
        except Exception:
            return result
        sk = SUITE.kem.deserialize_private_key(self.reply.private_bytes_raw())
        return SUITE.create_recipient_context(sealed["enc"], sk, self.result_info).open(sealed["ct"])


# The browser.

JS_CALL = """
const [name, arg, done] = arguments;
import("/cloister-passkey.js").then((m) => m[name](arg)).then(
  (r) => done({ ok: r instanceof Uint8Array ? Array.from(r) : r }),
  (e) => done({ error: `${e && e.name}: ${e && e.message}` }));
"""


class Browser:
    def __init__(self, chromium, chromedriver):
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        self.profile = tempfile.mkdtemp(prefix="cloister-chromium-")
        for a in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  f"--user-data-dir={self.profile}"):
            options.add_argument(a)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        if os.geteuid() == 0:
            options.add_argument("--no-sandbox")  # Chromium refuses to run its sandbox as root
        self.driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
        self.driver.set_script_timeout(30)
        self.driver.set_page_load_timeout(30)
        self.version = self.driver.capabilities.get("browserVersion", "?")

    def add_authenticator(self):
        o = VirtualAuthenticatorOptions()
        o.protocol = Protocol.CTAP2
        o.transport = Transport.INTERNAL
        o.has_resident_key = True
        o.has_user_verification = True
        o.is_user_verified = True
        self.driver.add_virtual_authenticator(o)

    def open(self, url):
        self.driver.get(url)
        origin = self.driver.execute_script("return window.isSecureContext ? location.origin : null")
        if origin is None:
            raise Abort(f"{url} is not a secure context: WebAuthn is unavailable there")
        return origin

    def console_errors(self):
        """What the page logged as errors since the last call (a script that failed to load or threw)."""
        return [e["message"] for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"]

    def module(self, name, arg):
        r = self.driver.execute_async_script(JS_CALL, name, arg)
        if "error" in r:
            raise RuntimeError(r["error"])
        return r["ok"]

    def quit(self):
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


def serve(directory):
    """An http.server for `directory` on a free port of 127.0.0.1, in a thread; the page is http://localhost:PORT."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://localhost:{server.server_address[1]}"


# Passkey data, read by this backend on its own (the enclave reads it again).

def parse_registration(attestation_object):
    """(rawId, COSE algorithm, DER SubjectPublicKeyInfo, flags, rpIdHash) from an attestation object."""
    att = cbor2.loads(attestation_object)
    auth = att["authData"]
    rp_hash, flags = auth[:32], auth[32]
    if not flags & 0x40:
        raise Abort("the registration's authenticator data has no attested credential data")
    n = int.from_bytes(auth[53:55], "big")
    raw_id = auth[55:55 + n]
    cose = cbor2.CBORDecoder(io.BytesIO(auth[55 + n:])).decode()
    if cose.get(1) == 2 and cose.get(-1) == 1:
        key = ec.EllipticCurvePublicNumbers(int.from_bytes(cose[-2], "big"), int.from_bytes(cose[-3], "big"),
                                            ec.SECP256R1()).public_key()
    elif cose.get(1) == 1 and cose.get(-1) == 6:
        key = ed25519.Ed25519PublicKey.from_public_bytes(cose[-2])
    else:
        raise Abort(f"the passkey's key is neither P-256 nor Ed25519: {cose}")
    spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return raw_id, cose.get(3), spki, flags, rp_hash, att.get("fmt")


def approval_of(assertion, credential):
    return {"cred": credential, "sig": unb64(assertion["signature"]), "authData": unb64(assertion["authenticatorData"]),
            "clientData": unb64(assertion["clientDataJSON"])}


def approve(t, browser, call, raw_id, origin):
    """Has the passkey approve `call` on the browser's current page; checks what the browser signed."""
    a = browser.module("approve", {"fields": as_js(call.fields), "rpId": RP_ID, "credentialIds": [b64(raw_id)],
                                   "userVerification": "required"})
    client = json.loads(unb64(a["clientDataJSON"]))
    flags = unb64(a["authenticatorData"])[32]
    t.info(f"assertion by {a['credentialId'][:16]}…: clientData type {client.get('type')}, origin "
           f"{client.get('origin')}, challenge {client.get('challenge', '')[:16]}…, flags UP={flags & 1} "
           f"UV={(flags >> 2) & 1}")
    t.check(client.get("type") == "webauthn.get" and client.get("challenge") == b64url(call.digest)
            and client.get("origin") == origin and unb64(a["credentialId"]) == raw_id, "approval",
            f"the passkey signed the digest of this {call.op} (the JS module's, equal to cbor2's) on {origin}",
            fatal=True)
    return a


def run(t, args):
    enclave = Enclave(args.url, args.token, args.tenant)

    t.step("the enclave's identity")
    identity = enclave.identity()
    t.info("GET /v1/attestation parsed with cbor2 and NOT verified: verifying the document (root, chain, PCRs, "
           "nonce) and the signed responses is CloisterClient's job, out of scope here")
    t.info(f"boot {identity['boot'].hex()[:16]}…, deployment {identity['deployment'].hex()[:16]}…, "
           f"hpke {identity['hpke'].hex()[:16]}…")

    t.step("pages and browser")
    web = Path(args.web).resolve()
    server, page = serve(web)
    other_server, other_page = serve(web)
    t.info(f"serving {web} at {page} (the tenant's origin) and at {other_page} (an origin it does not list)")
    browser = Browser(args.chromium, args.chromedriver)
    try:
        browser.add_authenticator()
        t.info(f"Chromium {browser.version}, headless, virtual authenticator: ctap2, internal, resident keys, "
               "user verification (verified)")
        origin = browser.open(page + "/demo.html")
        errors = browser.console_errors()
        t.check(not errors and browser.driver.title.startswith("Cloister"), "demo",
                f"demo.html loads with its module and logs no error{': ' + '; '.join(errors) if errors else ''}")
        flow(t, enclave, identity, browser, origin, other_page)
    finally:
        browser.quit()
        server.shutdown()
        other_server.shutdown()


def encoder_vectors(t, browser, identity):
    """The JS module's CBOR against cbor2: every head length the array can need, and bad input refused."""
    base = {"deployment": identity["deployment"], "boot": identity["boot"], "tenant": "acme", "operation": "key.sign",
            "requestID": "r1", "requestHash": bytes(range(32)), "expiry": 1_800_000_000_000}
    cases = [dict(base, expiry=e) for e in (0, 1, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53 - 1)]
    cases += [dict(base, tenant=s) for s in ("a", "x" * 23, "x" * 24, "x" * 255, "x" * 256, "café-テナント")]
    same = 0
    for c in cases:
        js = bytes(browser.module("actionBytes", as_js(c)))
        digest = bytes(browser.module("actionDigest", as_js(c)))
        if js == action_bytes(c) and digest == sha256(action_bytes(c)):
            same += 1
        else:
            t.info(f"differs for {c['tenant']!r}, {c['expiry']}: js {js.hex()} cbor2 {action_bytes(c).hex()}")
    t.check(same == len(cases), "encoder", f"actionBytes and actionDigest equal cbor2 and SHA-256 in {same} of "
            f"{len(cases)} cases (uint heads 0 to 2^53-1, text of 1 to 256 bytes, non-ASCII)")
    bad = [("deployment of 31 bytes", dict(as_js(base), deployment=b64(bytes(31))), "RangeError"),
           ("expiry 2^53", dict(as_js(base), expiry=2**53), "RangeError"),
           ("expiry -1", dict(as_js(base), expiry=-1), "RangeError"),
           ("expiry 1.5", dict(as_js(base), expiry=1.5), "RangeError"),
           ("empty tenant", dict(as_js(base), tenant=""), "TypeError"),
           ("boot not base64", dict(as_js(base), boot="%%"), "TypeError")]
    refused = 0
    for what, fields, kind in bad:
        try:
            browser.module("actionBytes", fields)
            t.info(f"accepted {what}")
        except RuntimeError as e:
            refused += str(e).startswith(kind)
    t.check(refused == len(bad), "encoder", f"refuses {refused} of {len(bad)} bad inputs (wrong lengths, expiry "
            "out of range or not whole, empty names, bad base64)")


def flow(t, enclave, identity, browser, origin, other_page):
    tenant = enclave.tenant

    t.step("the JS module's action encoding")
    encoder_vectors(t, browser, identity)

    t.step("register a passkey (navigator.credentials.create)")
    made = browser.module("register", {"rpId": RP_ID, "rpName": "Cloister test", "userName": f"{tenant}-admin",
                                       "userId": b64(secrets.token_bytes(16))})
    raw_id, alg, spki, flags, rp_hash, fmt = parse_registration(unb64(made["attestationObject"]))
    credential = sha256(spki)
    t.info(f"rawId {raw_id.hex()[:16]}…, alg {alg} ({ {-7: 'ES256', -8: 'EdDSA'}.get(alg, '?') }), attestation "
           f"format {fmt!r}, Cloister credential id {credential.hex()}")
    t.check(unb64(made["credentialId"]) == raw_id and rp_hash == sha256(RP_ID.encode()) and flags & 0x05 == 0x05
            and alg in (-7, -8) and fmt == "none" and (made["publicKey"] is None or unb64(made["publicKey"]) == spki),
            "register", "a user-verified ES256/EdDSA passkey for rpId localhost, attestation none; its public key "
            "read from attestationObject equals the browser's getPublicKey()", fatal=True)

    t.step(f"credential.add: the passkey becomes tenant {tenant}'s first credential, approved by itself")
    policy = {"rpId": RP_ID, "origins": [origin], "userVerification": "required"}
    body = {"kind": "passkey", "attestationObject": made["attestationObject"], "clientDataJSON": made["clientDataJSON"],
            "label": "browser passkey", "webauthn": policy}
    call = SealedCall(identity, tenant, "credential.add", json.dumps(body).encode())
    a = approve(t, browser, call, raw_id, origin)
    status, result = enclave.call("credential.add", call.request_id, call.body([approval_of(a, credential)]))
    text = call.open(result)
    t.info(f"status {status}: {text[:200].decode(errors='replace')}")
    listed = json.loads(text) if status == "ok" else {}
    kinds = [c.get("kind") for c in listed.get("credentials", [])]
    t.check(status == "ok" and listed.get("root") == credential.hex() and kinds == ["passkey"], "credential.add",
            f"status {status}; the tenant's root is the passkey's id, its only credential, of kind {kinds}", fatal=True)

    t.step("key.create: an ed25519 key, approved by the passkey")
    call = SealedCall(identity, tenant, "key.create", json.dumps({"name": KEY_NAME, "type": "ed25519"}).encode())
    a = approve(t, browser, call, raw_id, origin)
    status, result = enclave.call("key.create", call.request_id, call.body([approval_of(a, credential)]))
    t.info(f"status {status}: {call.open(result)[:200].decode(errors='replace')}")
    t.check(status == "ok", "key.create", f"status {status}", fatal=True)

    t.step(f"key.sign {MESSAGE.decode()!r}, approved by the passkey; the result opened here")
    sign_body = json.dumps({"name": KEY_NAME, "input": b64(MESSAGE)}).encode()
    call = SealedCall(identity, tenant, "key.sign", sign_body)
    signed_assertion = a = approve(t, browser, call, raw_id, origin)
    status, result = enclave.call("key.sign", call.request_id, call.body([approval_of(a, credential)]))
    t.info(f"the host forwarded {len(result)} bytes of sealed result")
    plain = call.open(result)
    t.info(f"status {status}: {plain[:200].decode(errors='replace')}")
    t.check(status == "ok" and plain != result, "key.sign", f"status {status}; the result was sealed to this "
            "call's reply key and opened with pyhpke", fatal=True)
    signature = base64.b64decode(json.loads(plain)["signature"].split(":")[2])

    t.step("the signature, against the public key key.describe gives")
    call = SealedCall(identity, tenant, "key.describe", json.dumps({"name": KEY_NAME}).encode())
    status, result = enclave.call("key.describe", call.request_id, call.body(None))
    described = json.loads(call.open(result))
    public = load_der_public_key(base64.b64decode(described["versions"][0]["publicKey"]))
    try:
        public.verify(signature, MESSAGE)
        valid = True
    except Exception:
        valid = False
    t.info(f"key.describe: status {status}, {type(public).__name__}, signature {signature.hex()[:32]}…")
    t.check(valid, "signature", f"the Ed25519 signature over {MESSAGE.decode()!r} verifies with cryptography")

    t.step(f"the same assertion attached to an altered body ({ALTERED.decode()!r})")
    call = SealedCall(identity, tenant, "key.sign", json.dumps({"name": KEY_NAME, "input": b64(ALTERED)}).encode())
    status, result = enclave.call("key.sign", call.request_id, call.body([approval_of(signed_assertion, credential)]))
    t.info(f"status {status}: {call.open(result)[:200].decode(errors='replace')}")
    t.check(status in ("challengeMismatch", "badSignature"), "altered body",
            f"refused with {status} (expected challengeMismatch or badSignature)")

    t.step(f"an assertion made on {other_page}, an origin tenant {tenant} does not list")
    other_origin = browser.open(other_page + "/demo.html")
    call = SealedCall(identity, tenant, "key.sign", sign_body)
    a = approve(t, browser, call, raw_id, other_origin)
    status, result = enclave.call("key.sign", call.request_id, call.body([approval_of(a, credential)]))
    t.info(f"status {status}: {call.open(result)[:200].decode(errors='replace')}")
    t.check(status == "originNotAllowed", "other origin", f"refused with {status} (expected originNotAllowed)")


def main():
    root = Path(__file__).resolve().parents[2]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="the Cloister API, e.g. http://127.0.0.1:8080/")
    p.add_argument("--tenant", default="acme")
    p.add_argument("--token", default=os.environ.get("CLOISTER_TOKEN"), help="default: $CLOISTER_TOKEN")
    p.add_argument("--web", default=str(root / "web"), help="the directory served (web/)")
    p.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    p.add_argument("--chromedriver", default=shutil.which("chromedriver"))
    args = p.parse_args()
    if not args.token:
        p.error("the tenant's token: --token or $CLOISTER_TOKEN")
    if not args.chromium or not args.chromedriver:
        print("SKIP: chromium or chromedriver is not installed (Scripts/bootstrap installs them)", flush=True)
        return 3

    # A test that gives up on this script sends SIGTERM: quit the browser and the servers on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("STOPPED: terminated"))
    t = Transcript()
    print(f"Cloister passkeys in a browser: {args.url}, tenant {args.tenant}", flush=True)
    try:
        run(t, args)
    except Abort as e:
        print(f"\nSTOPPED: {e}", flush=True)
        t.failed = max(t.failed, 1)
    except Exception as e:
        print(f"\nSTOPPED: {type(e).__name__}: {e}", flush=True)
        t.failed += 1
    if t.failed:
        print(f"\nFAILED: {t.failed} expectation(s) failed, {t.passed} held", flush=True)
        return 1
    print(f"\nALL PASSED: {t.passed} expectations held", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
