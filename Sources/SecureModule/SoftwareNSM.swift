import CBOR
import NitroAttestation
import Synchronization

/// The Nitro Secure Module in software, for emulation: Nitro's PCR semantics, and attestation documents with
/// the exact layout of real ones (COSE_Sign1, ES384, the nine payload keys in AWS's order, a four-certificate
/// cabundle) signed under an emulated root. Its module id says it is emulated.
///
/// It answers encoded requests as the device does (`NSMTransport`), so `NSMClient(transport:)` drives it
/// through the same wire codec as the real device.
public final class SoftwareNSM: NSMTransport, Sendable {
    private struct State {
        var pcrs: PCRBank
        var hierarchy: EmulatedHierarchy
    }

    /// The emulated module id, `i-emulated-<16 hex>-enc<16 hex>`.
    public let moduleID: String
    private let state: Mutex<State>
    private let clock: @Sendable () -> Int64

    /// Boots a module measuring `image`, with a fresh chain under `root`. `clock` gives milliseconds.
    public init(root: EmulatedRoot, image: EnclaveImage, clock: @escaping @Sendable () -> Int64 = { Clock.milliseconds() }) throws(NSMError) {
        moduleID = "i-emulated-\(Hex.encode(Random.bytes(8)))-enc\(Hex.encode(Random.bytes(8)))"
        self.clock = clock
        let hierarchy = try EmulatedHierarchy(root: root, moduleID: moduleID, now: clock())
        state = Mutex(State(pcrs: PCRBank(boot: image.measurements), hierarchy: hierarchy))
    }

    /// The typed API over this module.
    public var client: NSMClient<SoftwareNSM> { NSMClient(transport: self) }

    public func exchange(_ request: [UInt8]) async throws(NSMError) -> [UInt8] { respond(to: request).encoded }

    /// Answers one encoded request; module errors become `{"Error": code}` responses, as on the device.
    public func respond(to bytes: [UInt8]) -> NSMResponse {
        do {
            return try handle(try NSMRequest(bytes))
        } catch {
            return .error(error.code)
        }
    }

    func handle(_ request: NSMRequest) throws(NSMError) -> NSMResponse {
        switch request {
        case .describeNSM:
            let locked = state.withLock { $0.pcrs.lockedIndexes }
            return .describeNSM(NSMDescription(
                versionMajor: 1, versionMinor: 0, versionPatch: 0, moduleID: moduleID, maxPCRs: UInt16(PCRBank.count),
                lockedPCRs: locked, digest: .sha384))
        case .describePCR(let i):
            let (locked, value) = try state.withLock { (s) throws(NSMError) in try s.pcrs.describe(i) }
            return .describePCR(locked: locked, data: value)
        case .extendPCR(let i, let data):
            return .extendPCR(data: try state.withLock { (s) throws(NSMError) in try s.pcrs.extend(i, data) })
        case .lockPCR(let i):
            try state.withLock { (s) throws(NSMError) in try s.pcrs.lock(i) }
            return .lockPCR
        case .lockPCRs(let range):
            try state.withLock { (s) throws(NSMError) in try s.pcrs.lock(range: range) }
            return .lockPCRs
        case .getRandom:
            return .getRandom(random: Random.bytes(256))
        case .attestation(let userData, let nonce, let publicKey):
            for (name, field) in [("user_data", userData), ("nonce", nonce), ("public_key", publicKey)] {
                if let field, field.count > AttestationDocument.maxOptionalFieldLength {
                    throw NSMError(.inputTooLarge, "\(name) of \(field.count) bytes exceeds \(AttestationDocument.maxOptionalFieldLength)")
                }
            }
            return .attestation(document: try attest(userData: userData, nonce: nonce, publicKey: publicKey))
        }
    }

    func attest(userData: [UInt8]?, nonce: [UInt8]?, publicKey: [UInt8]?) throws(NSMError) -> [UInt8] {
        let now = clock()
        let (pcrs, hierarchy) = try state.withLock { (s) throws(NSMError) -> ([Int: [UInt8]], EmulatedHierarchy) in
            s.hierarchy = try s.hierarchy.fresh(moduleID: moduleID, now: now)
            return (s.pcrs.attested, s.hierarchy)
        }
        let document = AttestationDocument(
            moduleID: moduleID, timestamp: UInt64(now), pcrs: pcrs, certificate: hierarchy.leaf.der,
            cabundle: hierarchy.cabundle.map(\.der), publicKey: publicKey, userData: userData, nonce: nonce)
        let protected: [UInt8] = [0xA1, 0x01, 0x38, 0x22]  // {1: -35}: ES384
        let payload = CBOREncoder.encode(document.cbor)
        let signature = try hierarchy.leafKey.signES384(COSESign1.signedBytes(protectedHeader: protected, payload: payload))
        // Untagged, as real modules write it.
        return COSESign1.encode(protectedHeader: protected, payload: payload, signature: signature, tagged: false)
    }
}
