// Cloister passkeys in the browser: register a passkey, and have it approve a Cloister action.
//
// An ES module with no dependencies and no build step. It computes the action digest a passkey signs and talks to
// the authenticator; it does NOT verify the enclave's attestation and does NOT seal requests. The integrator's
// server does both (with CloisterClient), builds the sealed request, hands this page the action's fields, and
// attaches the approval this module returns. That server is trusted to show the user what the passkey signs:
// see docs/threat-model.md.
//
// Byte inputs are Uint8Array, ArrayBuffer, or base64 strings (standard or URL-safe, padding optional). Byte
// outputs are standard base64 with padding.

/** The domain of every action digest (`Action.domain` in EnclaveWire). */
export const ACTION_DOMAIN = "cloister-action/1";

/** COSE algorithm identifiers a passkey may use for Cloister: ES256 (P-256) and EdDSA (Ed25519). */
export const ES256 = -7;
export const EDDSA = -8;

const MAX_SAFE = Number.MAX_SAFE_INTEGER; // 2^53 - 1

/**
 * The deterministic CBOR encoding of the action array
 * `["cloister-action/1", deployment, boot, tenant, operation, requestID, requestHash, expiry]`
 * (definite lengths, shortest heads: the bytes the enclave hashes).
 *
 * fields: { deployment: 32 bytes, boot: 32 bytes, tenant: string, operation: string, requestID: string,
 *           requestHash: 32 bytes, expiry: milliseconds since the Unix epoch (a safe integer or BigInt) }
 */
export function actionBytes(fields) {
  if (fields === null || typeof fields !== "object") throw new TypeError("action fields: an object is required");
  const out = [];
  head(out, 4, 8);
  text(out, ACTION_DOMAIN);
  bytes(out, fixed(fields.deployment, 32, "deployment"));
  bytes(out, fixed(fields.boot, 32, "boot"));
  text(out, name(fields.tenant, "tenant"));
  text(out, name(fields.operation, "operation"));
  text(out, name(fields.requestID, "requestID"));
  bytes(out, fixed(fields.requestHash, 32, "requestHash"));
  head(out, 0, expiry(fields.expiry));
  return Uint8Array.from(out);
}

/** SHA-256 of `actionBytes(fields)`: the 32 bytes every approval of the action signs (a passkey as its challenge). */
export async function actionDigest(fields) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", actionBytes(fields)));
}

/**
 * Has a passkey approve the action `fields`: a WebAuthn assertion whose challenge is the action digest.
 * credentialIds: the WebAuthn credential ids (rawId) allowed to answer; userVerification defaults to "required".
 * Returns { credentialId, authenticatorData, clientDataJSON, signature } (base64), which the server puts in the
 * request's approvals as {"cred": SHA-256 of the passkey's public key, "sig", "authData", "clientData"}.
 */
export async function approve({ fields, rpId, credentialIds = [], userVerification = "required" }) {
  const challenge = await actionDigest(fields);
  const allowCredentials = credentialIds.map((id, i) => ({
    type: "public-key",
    id: decode(id, `credentialIds[${i}]`),
  }));
  const credential = await navigator.credentials.get({
    publicKey: { challenge, rpId, allowCredentials, userVerification },
  });
  if (!credential) throw new Error("no passkey answered");
  const r = credential.response;
  return {
    credentialId: encode(credential.rawId),
    authenticatorData: encode(r.authenticatorData),
    clientDataJSON: encode(r.clientDataJSON),
    signature: encode(r.signature),
  };
}

/**
 * Makes a discoverable passkey (ES256 or EdDSA, user verification required, attestation "none") for the relying
 * party rpId. userId is the account's opaque handle (1 to 64 bytes; never an e-mail address or a name).
 * Returns { credentialId, attestationObject, clientDataJSON } (base64), what `credential.add` with kind "passkey"
 * takes, and, where the browser gives it, publicKey: the DER SubjectPublicKeyInfo (base64), whose SHA-256 is the
 * Cloister credential id (the enclave derives it from attestationObject itself).
 */
export async function register({ rpId, rpName, userName, userId }) {
  const id = decode(userId, "userId");
  if (id.length < 1 || id.length > 64) throw new RangeError("userId: 1 to 64 bytes");
  const credential = await navigator.credentials.create({
    publicKey: {
      rp: { id: rpId, name: rpName },
      user: { id, name: userName, displayName: userName },
      // Cloister does not check the registration's challenge (the credential.add action is what is signed).
      challenge: crypto.getRandomValues(new Uint8Array(32)),
      pubKeyCredParams: [
        { type: "public-key", alg: ES256 },
        { type: "public-key", alg: EDDSA },
      ],
      attestation: "none",
      authenticatorSelection: { residentKey: "required", requireResidentKey: true, userVerification: "required" },
    },
  });
  if (!credential) throw new Error("no passkey was made");
  const r = credential.response;
  const spki = typeof r.getPublicKey === "function" ? r.getPublicKey() : null;
  return {
    credentialId: encode(credential.rawId),
    attestationObject: encode(r.attestationObject),
    clientDataJSON: encode(r.clientDataJSON),
    publicKey: spki ? encode(spki) : null,
  };
}

// CBOR, only what the action array needs (RFC 8949 §4.2.1 preferred serialization).

function head(out, major, n) {
  const m = major << 5;
  if (n < 24) out.push(m | n);
  else if (n <= 0xff) out.push(m | 24, n);
  else if (n <= 0xffff) out.push(m | 25, n >>> 8, n & 0xff);
  else if (n <= 0xffffffff) out.push(m | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  else {
    const hi = Math.floor(n / 0x100000000);
    const lo = n % 0x100000000;
    out.push(m | 27, hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff);
    out.push(lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
  }
}

function text(out, s) {
  const utf8 = new TextEncoder().encode(s);
  head(out, 3, utf8.length);
  for (const b of utf8) out.push(b);
}

function bytes(out, b) {
  head(out, 2, b.length);
  for (const x of b) out.push(x);
}

function fixed(value, length, what) {
  const b = decode(value, what);
  if (b.length !== length) throw new RangeError(`${what}: ${length} bytes, not ${b.length}`);
  return b;
}

function name(value, what) {
  if (typeof value !== "string" || value.length === 0) throw new TypeError(`${what}: a non-empty string`);
  // A lone surrogate would be hashed as U+FFFD here and refused by the server's own encoder.
  if (typeof value.isWellFormed === "function" && !value.isWellFormed()) {
    throw new TypeError(`${what}: not well-formed Unicode`);
  }
  return value;
}

function expiry(value) {
  const n = typeof value === "bigint" && value <= BigInt(MAX_SAFE) ? Number(value) : value;
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError("expiry: milliseconds since the epoch, 0 to 2^53 - 1");
  return n;
}

// Base64.

function decode(value, what) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value !== "string") throw new TypeError(`${what}: bytes or a base64 string`);
  const bare = value.replace(/-/g, "+").replace(/_/g, "/").replace(/={1,2}$/, "");
  if (!/^[A-Za-z0-9+/]*$/.test(bare) || bare.length % 4 === 1) throw new TypeError(`${what}: not base64`);
  const binary = atob(bare.padEnd(Math.ceil(bare.length / 4) * 4, "="));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function encode(buffer) {
  const b = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  let binary = "";
  for (const x of b) binary += String.fromCharCode(x);
  return btoa(binary);
}
