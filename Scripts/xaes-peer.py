#!/usr/bin/env python3
"""XAES-256-GCM (c2sp.org/XAES-256-GCM) built from PyPI cryptography's AES-CMAC and AES-GCM, written from the spec.

The Swift implementation (Sources/SecureModule/XAES256GCM.swift) is checked against it both ways; it shares no
code with it. The subkey is the spec's NIST SP 800-108r1 counter-mode KDF with CMAC-AES256 as the PRF, computed
here with a real CMAC rather than the spec's one-block shortcut.

    xaes-peer.py seal KEY NONCE PLAINTEXT AAD     (hex arguments) prints ciphertext ‖ tag, hex
    xaes-peer.py open KEY NONCE CIPHERTEXT AAD    prints the plaintext, hex; exits 1 if it does not open
    xaes-peer.py accumulated N                    prints the spec's accumulated SHAKE-128 hash over N iterations
"""
import hashlib
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def derive(key, nonce):
    """The AES-256-GCM key and nonce for an XAES-256-GCM key and 24-byte nonce."""
    if len(key) != 32 or len(nonce) != 24:
        raise ValueError("XAES-256-GCM takes a 32-byte key and a 24-byte nonce")
    derived = b""
    for counter in (1, 2):
        # [i]_16 || Label "X" || 0x00 || Context N[:12]; no L field.
        prf = cmac.CMAC(algorithms.AES(key))
        prf.update(counter.to_bytes(2, "big") + b"X" + b"\x00" + nonce[:12])
        derived += prf.finalize()
    return derived, nonce[12:]


def seal(key, nonce, plaintext, aad):
    k, n = derive(key, nonce)
    return AESGCM(k).encrypt(n, plaintext, aad)


def open_(key, nonce, ciphertext, aad):
    k, n = derive(key, nonce)
    return AESGCM(k).decrypt(n, ciphertext, aad)


def accumulated(iterations):
    """The spec's accumulated test: inputs read from SHAKE-128(""), every ciphertext hashed into another SHAKE-128."""
    # hashlib cannot squeeze a SHAKE stream bit by bit; an iteration reads at most 32 + 24 + 1 + 255 + 1 + 255 bytes.
    stream = hashlib.shake_128(b"").digest(iterations * 568)
    at = 0

    def read(n):
        nonlocal at
        at += n
        return stream[at - n:at]

    out = hashlib.shake_128()
    for _ in range(iterations):
        key, nonce = read(32), read(24)
        plaintext = read(read(1)[0])
        aad = read(read(1)[0])
        ciphertext = seal(key, nonce, plaintext, aad)
        if open_(key, nonce, ciphertext, aad) != plaintext:
            raise SystemExit("a ciphertext did not open to its plaintext")
        out.update(ciphertext)
    return out.hexdigest(32)


def main(argv):
    if len(argv) == 3 and argv[1] == "accumulated":
        print(accumulated(int(argv[2])))
        return 0
    if len(argv) == 6 and argv[1] in ("seal", "open"):
        key, nonce, data, aad = (bytes.fromhex(a) for a in argv[2:6])
        if argv[1] == "seal":
            print(seal(key, nonce, data, aad).hex())
            return 0
        try:
            print(open_(key, nonce, data, aad).hex())
        except InvalidTag:
            print("authentication failed", file=sys.stderr)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
