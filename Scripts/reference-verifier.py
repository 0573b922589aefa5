#!/usr/bin/env python3
"""Reference verifier for AWS Nitro Enclaves attestation documents (COSE_Sign1, ES384).

Checks the chain pinned root -> cabundle -> leaf, every certificate's validity at the
validation time, and the document signature with the leaf key. Needs cbor2 and cryptography.
"""
import argparse
import base64
import binascii
import calendar
import hashlib
import io
import json
import sys
import time

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

COSE_SIGN1_TAG = 18
ES384 = -35


class VerifyError(Exception):
    """A document is malformed or fails a check."""


def require(condition, reason):
    if not condition:
        raise VerifyError(reason)


def decode_cbor(data):
    """Decode exactly one CBOR item, rejecting trailing bytes."""
    stream = io.BytesIO(data)
    item = cbor2.CBORDecoder(stream).decode()
    require(stream.tell() == len(data), "trailing bytes after CBOR item")
    return item


def load_document(raw):
    """Return raw CBOR bytes from a file holding raw CBOR, hex text or base64 text."""
    if raw[:1] in (b"\xd2", b"\x84"):
        return raw
    text = b"".join(raw.split())
    try:
        return bytes.fromhex(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        pass
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise VerifyError("input is neither CBOR, hex nor base64")


def to_ms(moment):
    return calendar.timegm(moment.utctimetuple()) * 1000 + moment.microsecond // 1000


def parse_payload(data):
    """Split the COSE_Sign1 envelope and decode its payload map."""
    item = decode_cbor(data)
    if isinstance(item, cbor2.CBORTag):
        require(item.tag == COSE_SIGN1_TAG, f"unexpected CBOR tag {item.tag}")
        item = item.value
    require(isinstance(item, list) and len(item) == 4, "not a COSE_Sign1 array of 4")
    protected, unprotected, payload, signature = item
    require(isinstance(unprotected, dict), "unprotected header is not a map")
    require(all(isinstance(part, bytes) for part in (protected, payload, signature)),
            "protected header, payload and signature must be byte strings")
    require(decode_cbor(protected) == {1: ES384}, "protected header is not {1: -35}")
    doc = decode_cbor(payload)
    require(isinstance(doc, dict), "payload is not a map")
    return protected, payload, signature, doc


def check_fields(doc):
    require(isinstance(doc.get("module_id"), str) and doc["module_id"], "bad module_id")
    require(doc.get("digest") == "SHA384", "digest is not SHA384")
    require(isinstance(doc.get("timestamp"), int) and doc["timestamp"] > 0, "bad timestamp")
    pcrs = doc.get("pcrs")
    require(isinstance(pcrs, dict) and pcrs, "bad pcrs")
    require(all(isinstance(k, int) and isinstance(v, bytes) for k, v in pcrs.items()),
            "pcrs must map integers to byte strings")
    require(isinstance(doc.get("certificate"), bytes), "bad certificate")
    bundle = doc.get("cabundle")
    require(isinstance(bundle, list) and bundle and all(isinstance(c, bytes) for c in bundle),
            "cabundle must be a non-empty array of byte strings")
    for key in ("public_key", "user_data", "nonce"):
        require(doc.get(key) is None or isinstance(doc[key], bytes), f"bad {key}")


def verify_chain(doc, root_sha256, at_ms):
    """Check the chain root -> cabundle[1..] -> leaf and return the leaf public key."""
    bundle = doc["cabundle"]
    require(hashlib.sha256(bundle[0]).digest() == root_sha256, "cabundle[0] is not the trusted root")
    chain = [x509.load_der_x509_certificate(der) for der in bundle + [doc["certificate"]]]
    for index, cert in enumerate(chain):
        not_before, not_after = to_ms(cert.not_valid_before_utc), to_ms(cert.not_valid_after_utc)
        require(not_before <= at_ms <= not_after,
                f"certificate {index} not valid at {at_ms} ms ({not_before}..{not_after})")
    for index, (issuer, child) in enumerate(zip(chain, chain[1:])):
        try:
            child.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature) as error:
            raise VerifyError(f"certificate {index + 1} not issued by {index}: {error or 'bad signature'}")
    key = chain[-1].public_key()
    require(isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP384R1),
            "leaf key is not P-384")
    return key


def verify_signature(key, protected, payload, signature):
    require(len(signature) == 96, f"signature is {len(signature)} bytes, expected 96")
    r, s = int.from_bytes(signature[:48], "big"), int.from_bytes(signature[48:], "big")
    signed = cbor2.dumps(["Signature1", protected, b"", payload])
    try:
        key.verify(encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise VerifyError("document signature does not verify")


def verify(data, root_sha256, at):
    """Fully verify one document; return (doc, error) where error is None on success."""
    doc = None
    try:
        require(data, "empty input")
        protected, payload, signature, doc = parse_payload(data)
        check_fields(doc)
        at_ms = doc["timestamp"] if at == "document" else int(time.time() * 1000)
        key = verify_chain(doc, root_sha256, at_ms)
        verify_signature(key, protected, payload, signature)
        return doc, None
    except VerifyError as error:
        return doc, str(error)
    except Exception as error:
        return doc, f"{type(error).__name__}: {error}"


def read_root(path):
    with open(path, "rb") as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()


def read_input(path):
    try:
        with open(path, "rb") as handle:
            return load_document(handle.read()), None
    except (OSError, VerifyError) as error:
        return None, str(error)


def report(path, doc, error, as_json):
    if as_json:
        doc = doc if isinstance(doc, dict) else {}
        module_id, stamp = doc.get("module_id"), doc.get("timestamp")
        print(json.dumps({"file": path, "valid": error is None, "error": error,
                          "module_id": module_id if isinstance(module_id, str) else None,
                          "timestamp": stamp if isinstance(stamp, int) else None}))
    elif error is None:
        print(f"OK {path}")
    else:
        print(f"FAIL {path}: {error}")


def bench(documents, root_sha256, at, seconds):
    failed, iterations, start = set(), 0, time.perf_counter()
    while True:
        for path, data in documents:
            if verify(data, root_sha256, at)[1] is not None:
                failed.add(path)
        iterations += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    rate = len(documents) * iterations / elapsed
    print(f"reference docs_per_second={rate:.1f} documents={len(documents)} iterations={iterations}")
    for path in sorted(failed):
        print(f"failed during bench: {path}", file=sys.stderr)
    return 1 if failed else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description="Verify AWS Nitro Enclaves attestation documents.")
    parser.add_argument("--root", required=True, help="trusted root certificate (PEM)")
    parser.add_argument("--at", choices=("document", "now"), default="document",
                        help="validation time: the document timestamp (default) or the current time")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file")
    parser.add_argument("--bench", type=float, metavar="SECONDS", help="measure throughput")
    parser.add_argument("files", nargs="+", metavar="FILE")
    args = parser.parse_args(argv)
    try:
        root_sha256 = read_root(args.root)
    except (OSError, ValueError) as error:
        parser.error(f"cannot load root {args.root}: {error}")

    if args.bench is not None:
        documents = []
        for path in args.files:
            data, error = read_input(path)
            if error is not None:
                print(f"cannot load {path}: {error}", file=sys.stderr)
                return 1
            documents.append((path, data))
        return bench(documents, root_sha256, args.at, args.bench)

    all_valid = True
    for path in args.files:
        data, error = read_input(path)
        doc, error = verify(data, root_sha256, args.at) if error is None else (None, error)
        report(path, doc, error, args.json)
        all_valid = all_valid and error is None
    return 0 if all_valid else 1


if __name__ == "__main__":
    sys.exit(main())
