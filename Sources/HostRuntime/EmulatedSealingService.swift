#if canImport(Glibc)
import Glibc
#endif
import CBOR
import EnclaveWire
import Foundation
import Logging
import NIOCore
import NitroAttestation
import SecureModule

/// A stand-in for AWS KMS with a PCR key policy, run by the host in emulation only. Like KMS `Encrypt`, it seals
/// whatever secret it is given (it never makes one); like KMS `Decrypt` with a `Recipient`, it releases a sealed
/// secret only to a document that verifies against the emulated root, is fresh, and comes from a build its key
/// policy authorises, and then only HPKE-encrypted to the X25519 key in that document's `user_data`. Secrets reach
/// it HPKE-encrypted to its own X25519 key, which the emulated root certifies.
///
/// Its key is a file on this machine: in emulation the machine's owner can unseal everything.
public final class EmulatedSealingService: Sendable {
    let blobKey: [UInt8]
    let serviceKey: X25519Key
    let certification: [UInt8]
    let roots: TrustedRoots
    /// The key policy: the builds (PCR pin sets) a secret is released to.
    public let policy: [[Int: [UInt8]]]
    let maxAgeMs: Int64

    /// Why a request was refused; `code` is what the enclave hears.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public let code: String
        public let reason: String
        public var description: String { "\(code): \(reason)" }
    }

    /// Loads the service's key from `keyPath`, creating it (mode 0600) on first use; `root` certifies the service's
    /// X25519 key and is the root documents must chain to; `policy` lists the builds a secret is released to.
    public init(keyPath: String, root: EmulatedRoot, policy: [[Int: [UInt8]]], maxAgeMs: Int64 = 300_000) throws {
        let key: [UInt8]
        if let data = FileManager.default.contents(atPath: keyPath) {
            guard data.count == 32 else { throw HostStartError("the sealing key \(keyPath) is not 32 bytes") }
            key = Array(data)
        } else {
            let fresh = Random.bytes(32)
            // Created 0600 from the start (not chmod-ed after the write), and never over an existing file.
            let fd = open(keyPath, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            guard fd >= 0 else { throw HostStartError("cannot create the sealing key \(keyPath): errno \(errno)") }
            defer { close(fd) }
            guard fresh.withUnsafeBytes({ write(fd, $0.baseAddress, 32) }) == 32, fsync(fd) == 0 else {
                throw HostStartError("cannot write the sealing key \(keyPath)")
            }
            key = fresh
        }
        guard !policy.isEmpty, policy.allSatisfy({ !$0.isEmpty }) else { throw HostStartError("the sealing policy authorises no build") }
        // One key, one purpose: the blob key and the service's X25519 key are separate derivations of the key file.
        blobKey = HKDF.derive(.sha256, ikm: key, salt: Self.salt, info: Array("blob".utf8), length: 32)
        serviceKey = try X25519Key.fromRawPrivateKey(HKDF.derive(.sha256, ikm: key, salt: Self.salt, info: Array("service-x25519".utf8), length: 32))
        certification = try root.certify(SealingMessage.keyStatement(serviceKey.publicKey))
        roots = TrustedRoots(certificates: [root.certificate])
        self.policy = policy
        self.maxAgeMs = maxAgeMs
    }

    static let salt = Array("cloister-emulated-sealing/1".utf8)

    /// The service's X25519 key and the emulated root's signature over it.
    public var certifiedKey: (key: [UInt8], signature: [UInt8]) { (serviceKey.publicKey, certification) }

    /// Seals the secret that `ciphertext` carries (HPKE to the service key, `context` as associated data).
    public func seal(context: [UInt8], enc: [UInt8], ciphertext: [UInt8]) throws(Refusal) -> [UInt8] {
        let secret: [UInt8]
        do { secret = try HPKEX25519.open(ciphertext, enc: enc, with: serviceKey, info: SealingMessage.sealInfo, aad: context) } catch {
            throw Refusal(code: "sealRequestInvalid", reason: "the secret is not encrypted to this service's key for this context")
        }
        guard (1...64).contains(secret.count) else { throw Refusal(code: "sealRequestInvalid", reason: "a sealed secret is 1 to 64 bytes") }
        let nonce = Random.bytes(AESGCM.nonceSize)
        let ct: [UInt8]
        do { ct = try AESGCM.seal(secret, key: blobKey, nonce: nonce, aad: Self.aad(context)) } catch { throw Refusal(code: "internal", reason: "\(error)") }
        return CBOREncoder.encode(.map(["v": .unsigned(2), "ctx": .bytes(context), "nonce": .bytes(nonce), "ct": .bytes(ct)]))
    }

    /// The secret in `sealed`, for `document`, if the key policy authorises its build.
    public func unseal(document: [UInt8], sealed: [UInt8]) throws(Refusal) -> (enc: [UInt8], ciphertext: [UInt8]) {
        let (verified, claims) = try check(document)
        let pcrs = verified.document.pcrs
        guard policy.contains(where: { build in build.allSatisfy { pcrs[$0.key] == $0.value } }) else {
            let seen = [0, 1, 2, 8].compactMap { i in pcrs[i].map { "PCR\(i) \(Hex.encode($0).prefix(16))…" } }.joined(separator: ", ")
            throw Refusal(code: "pcrPolicyMismatch", reason: "the key policy authorises no build with this enclave's PCRs (\(seen))")
        }
        guard let item = try? CBORDecoder(limits: .init(maxInputSize: SealingMessage.maxBlob, maxDepth: 1, maxItems: 12)).decode(sealed),
            let map = item.map, map.count == 4, map[.text("v")]?.uint64 == 2, let context = map[.text("ctx")]?.bytes,
            let nonce = map[.text("nonce")]?.bytes, nonce.count == AESGCM.nonceSize, let ct = map[.text("ct")]?.bytes
        else { throw Refusal(code: "sealedBlobInvalid", reason: "not a sealed blob of this service") }
        let secret: [UInt8]
        do { secret = try AESGCM.open(ct, key: blobKey, nonce: nonce, aad: Self.aad(context)) } catch {
            throw Refusal(code: "sealedBlobInvalid", reason: "the blob was not sealed by this service, or was altered")
        }
        do {
            return try HPKEX25519.seal(to: claims.hpkePublicKey, info: SealingMessage.releaseInfo, aad: SHA.sha256(document), plaintext: secret)
        } catch { throw Refusal(code: "internal", reason: "\(error)") }
    }

    private func check(_ document: [UInt8]) throws(Refusal) -> (VerifiedAttestation, IdentityClaims) {
        let verified: VerifiedAttestation
        do {
            verified = try AttestationVerifier(roots: roots, cache: nil).verify(document, policy: AttestationPolicy(maxAge: maxAgeMs, allowDebug: false))
        } catch {
            throw Refusal(code: "attestationInvalid", reason: "\(error)")
        }
        guard let userData = verified.document.userData, let claims = try? IdentityClaims(encoded: userData) else {
            throw Refusal(code: "attestationInvalid", reason: "the document carries no HPKE key in user_data")
        }
        return (verified, claims)
    }

    static func aad(_ context: [UInt8]) -> [UInt8] {
        CBOREncoder.encode(.array([.text("cloister-sealed/2"), .bytes(context)]))
    }
}

/// The host's end of a `sealing` connection (emulation only).
final class SealingChannelHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = WireMessage
    let service: EmulatedSealingService
    let logger: Logger

    init(service: EmulatedSealingService, logger: Logger) {
        self.service = service
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .data(let bytes) = unwrapInboundIn(data), let message = try? SealingMessage(encoded: bytes) else {
            logger.warning("closing sealing channel", metadata: ["code": "malformedMessage"])
            let channel = context.channel
            context.writeAndFlush(NIOAny(WireMessage.close(code: "malformedMessage", reason: "not a sealing request")))
                .whenComplete { _ in channel.close(promise: nil) }
            return
        }
        let answer: SealingMessage
        switch message {
        case .describe(let id):
            let (key, signature) = service.certifiedKey
            answer = .serviceKey(id: id, key: key, signature: signature)
        case .seal(let id, let context, let enc, let ciphertext):
            do {
                answer = .sealed(id: id, sealed: try service.seal(context: context, enc: enc, ciphertext: ciphertext))
                logger.info("sealing: a secret was sealed")
            } catch {
                logger.warning("sealing: seal refused", metadata: ["code": "\(error.code)", "reason": "\(error.reason)"])
                answer = .refused(id: id, code: error.code, reason: error.reason)
            }
        case .unseal(let id, let document, let sealed):
            do {
                let (enc, ct) = try service.unseal(document: document, sealed: sealed)
                logger.info("sealing: a secret was released to an enclave its key policy authorises")
                answer = .released(id: id, enc: enc, ciphertext: ct)
            } catch {
                logger.warning("sealing: unseal refused", metadata: ["code": "\(error.code)", "reason": "\(error.reason)"])
                answer = .refused(id: id, code: error.code, reason: error.reason)
            }
        case .serviceKey(let id, _, _), .sealed(let id, _), .released(let id, _, _), .refused(let id, _, _):
            answer = .refused(id: id, code: "protocol", reason: "the client sent a service message")
        }
        context.writeAndFlush(NIOAny(WireMessage.data(answer.encoded)), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}
