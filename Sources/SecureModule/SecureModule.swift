/// The Nitro Secure Module's operations, whatever backs them: the `/dev/nsm` device inside an enclave, or the
/// software module in emulation. Errors carry the NSM's own codes.
public protocol SecureModule: Sendable {
    /// Version, module id, PCR count, locked PCRs and digest.
    func describe() async throws(NSMError) -> NSMDescription
    /// A PCR's value and whether it is locked.
    func describePCR(_ index: UInt16) async throws(NSMError) -> (locked: Bool, value: [UInt8])
    /// Extends a PCR (new = H(old ‖ data)) and returns its new value.
    func extendPCR(_ index: UInt16, data: [UInt8]) async throws(NSMError) -> [UInt8]
    /// Locks one PCR against further extension.
    func lockPCR(_ index: UInt16) async throws(NSMError)
    /// Locks PCRs 0 ..< range.
    func lockPCRs(range: UInt16) async throws(NSMError)
    /// A signed attestation document (COSE_Sign1 bytes) binding the given optional fields.
    func attestation(userData: [UInt8]?, nonce: [UInt8]?, publicKey: [UInt8]?) async throws(NSMError) -> [UInt8]
    /// Random bytes from the module.
    func random() async throws(NSMError) -> [UInt8]
}

/// A secure module that answers encoded requests with encoded responses: the device's contract.
public protocol NSMTransport: Sendable {
    /// Sends one encoded request and returns the encoded response.
    func exchange(_ request: [UInt8]) async throws(NSMError) -> [UInt8]
}

/// Drives any `NSMTransport` through the typed API, checking every response matches its request.
public struct NSMClient<Transport: NSMTransport>: SecureModule {
    public let transport: Transport

    public init(transport: Transport) { self.transport = transport }

    func call(_ request: NSMRequest) async throws(NSMError) -> NSMResponse {
        let encoded = request.encoded
        guard encoded.count <= NSMRequest.maxEncodedSize else {
            throw NSMError(.inputTooLarge, "request of \(encoded.count) bytes exceeds \(NSMRequest.maxEncodedSize)")
        }
        let response = try NSMResponse(try await transport.exchange(encoded))
        if case .error(let code) = response { throw NSMError(code, "\(request.name) refused by the module") }
        return response
    }

    public func describe() async throws(NSMError) -> NSMDescription {
        guard case .describeNSM(let d) = try await call(.describeNSM) else { throw mismatch("DescribeNSM") }
        return d
    }

    public func describePCR(_ index: UInt16) async throws(NSMError) -> (locked: Bool, value: [UInt8]) {
        guard case .describePCR(let l, let d) = try await call(.describePCR(index: index)) else { throw mismatch("DescribePCR") }
        return (l, d)
    }

    public func extendPCR(_ index: UInt16, data: [UInt8]) async throws(NSMError) -> [UInt8] {
        guard case .extendPCR(let d) = try await call(.extendPCR(index: index, data: data)) else { throw mismatch("ExtendPCR") }
        return d
    }

    public func lockPCR(_ index: UInt16) async throws(NSMError) {
        guard case .lockPCR = try await call(.lockPCR(index: index)) else { throw mismatch("LockPCR") }
    }

    public func lockPCRs(range: UInt16) async throws(NSMError) {
        guard case .lockPCRs = try await call(.lockPCRs(range: range)) else { throw mismatch("LockPCRs") }
    }

    public func attestation(userData: [UInt8]?, nonce: [UInt8]?, publicKey: [UInt8]?) async throws(NSMError) -> [UInt8] {
        guard case .attestation(let doc) = try await call(.attestation(userData: userData, nonce: nonce, publicKey: publicKey)) else {
            throw mismatch("Attestation")
        }
        return doc
    }

    public func random() async throws(NSMError) -> [UInt8] {
        guard case .getRandom(let r) = try await call(.getRandom) else { throw mismatch("GetRandom") }
        return r
    }

    private func mismatch(_ name: String) -> NSMError {
        NSMError(.invalidResponse, "the module answered \(name) with another response kind")
    }
}

extension NSMRequest {
    /// The variant's wire name.
    public var name: String {
        switch self {
        case .describePCR: return "DescribePCR"
        case .extendPCR: return "ExtendPCR"
        case .lockPCR: return "LockPCR"
        case .lockPCRs: return "LockPCRs"
        case .describeNSM: return "DescribeNSM"
        case .attestation: return "Attestation"
        case .getRandom: return "GetRandom"
        }
    }
}
