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

/// A stand-in for AWS KMS with a PCR key policy, run by the host in emulation only. It releases a secret only
/// to a document that verifies against the emulated root, is fresh, and has the PCR0, PCR1 and PCR2 the secret
/// was sealed under; the secret leaves it only HPKE-encrypted to the X25519 key in that document's `user_data`.
///
/// Its sealing key is a file on this machine: in emulation the machine's owner can unseal everything.
public final class EmulatedSealingService: Sendable {
    let key: [UInt8]
    let roots: TrustedRoots
    let maxAgeMs: Int64

    /// The PCRs a sealed secret is bound to: the image (0), the kernel and boot (1), the application (2).
    public static let policyPCRs = [0, 1, 2]
    static let info = Array("cloister-sealing/1".utf8)

    /// Why a request was refused; `code` is what the enclave hears.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public let code: String
        public let reason: String
        public var description: String { "\(code): \(reason)" }
    }

    /// Loads the sealing key from `keyPath`, creating it (mode 0600) on first use.
    public init(keyPath: String, roots: TrustedRoots, maxAgeMs: Int64 = 300_000) throws {
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
        self.roots = roots
        self.maxAgeMs = maxAgeMs
    }

    /// A new secret for `document`'s PCRs: (sealed blob, enc, ciphertext for the document's HPKE key).
    public func generate(document: [UInt8]) throws(Refusal) -> (sealed: [UInt8], enc: [UInt8], ciphertext: [UInt8]) {
        let (verified, claims) = try check(document)
        let secret = Random.bytes(32)
        let pcrs = Self.policyPCRs.map { verified.document.pcrs[$0] ?? [] }
        let nonce = Random.bytes(AESGCM.nonceSize)
        let ct: [UInt8]
        do { ct = try AESGCM.seal(secret, key: key, nonce: nonce, aad: Self.aad(pcrs)) } catch { throw Refusal(code: "internal", reason: "\(error)") }
        let sealed = CBOREncoder.encode(.map(["v": .unsigned(1), "pcrs": .array(pcrs.map { .bytes($0) }), "nonce": .bytes(nonce), "ct": .bytes(ct)]))
        let (enc, ciphertext) = try release(secret, to: claims, document: document)
        return (sealed, enc, ciphertext)
    }

    /// The secret in `sealed`, for `document`, if its PCRs are the ones the secret was sealed under.
    public func unseal(document: [UInt8], sealed: [UInt8]) throws(Refusal) -> (enc: [UInt8], ciphertext: [UInt8]) {
        let (verified, claims) = try check(document)
        guard let item = try? CBORDecoder(limits: .init(maxInputSize: SealingMessage.maxBlob, maxDepth: 2, maxItems: 16)).decode(sealed),
            let map = item.map, map.count == 4, map[.text("v")]?.uint64 == 1, let list = map[.text("pcrs")]?.array, list.count == Self.policyPCRs.count,
            list.allSatisfy({ $0.bytes != nil }), let nonce = map[.text("nonce")]?.bytes, let ct = map[.text("ct")]?.bytes
        else { throw Refusal(code: "sealedBlobInvalid", reason: "not a sealed blob of this service") }
        let pcrs = list.compactMap(\.bytes)
        for (i, index) in Self.policyPCRs.enumerated() where verified.document.pcrs[index] != pcrs[i] {
            throw Refusal(
                code: "pcrPolicyMismatch",
                reason: "PCR\(index) of this enclave is \(Hex.encode(verified.document.pcrs[index] ?? []).prefix(16))…; the secret was sealed to \(Hex.encode(pcrs[i]).prefix(16))… (another build)")
        }
        let secret: [UInt8]
        do { secret = try AESGCM.open(ct, key: key, nonce: nonce, aad: Self.aad(pcrs)) } catch {
            throw Refusal(code: "sealedBlobInvalid", reason: "the blob was not sealed by this service, or was altered")
        }
        return try release(secret, to: claims, document: document)
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

    private func release(_ secret: [UInt8], to claims: IdentityClaims, document: [UInt8]) throws(Refusal) -> (enc: [UInt8], ciphertext: [UInt8]) {
        do {
            return try HPKEX25519.seal(to: claims.hpkePublicKey, info: Self.info, aad: SHA.sha256(document), plaintext: secret)
        } catch { throw Refusal(code: "internal", reason: "\(error)") }
    }

    static func aad(_ pcrs: [[UInt8]]) -> [UInt8] {
        CBOREncoder.encode(.array([.text("cloister-sealed/1"), .array(pcrs.map { .bytes($0) })]))
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
        case .generate(let id, let document):
            do {
                let (sealed, enc, ct) = try service.generate(document: document)
                logger.info("sealing: a new master secret was sealed to this build's PCRs")
                answer = .generated(id: id, sealed: sealed, enc: enc, ciphertext: ct)
            } catch {
                logger.warning("sealing: generate refused", metadata: ["code": "\(error.code)", "reason": "\(error.reason)"])
                answer = .refused(id: id, code: error.code, reason: error.reason)
            }
        case .unseal(let id, let document, let sealed):
            do {
                let (enc, ct) = try service.unseal(document: document, sealed: sealed)
                logger.info("sealing: the master secret was released to an enclave meeting its PCR policy")
                answer = .released(id: id, enc: enc, ciphertext: ct)
            } catch {
                logger.warning("sealing: unseal refused", metadata: ["code": "\(error.code)", "reason": "\(error.reason)"])
                answer = .refused(id: id, code: error.code, reason: error.reason)
            }
        case .generated(let id, _, _, _), .released(let id, _, _), .refused(let id, _, _):
            answer = .refused(id: id, code: "protocol", reason: "the enclave sent a service message")
        }
        context.writeAndFlush(NIOAny(WireMessage.data(answer.encoded)), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}
