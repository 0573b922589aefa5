import AWSRequestSigning
import Foundation

/// A client for AWS KMS's JSON 1.1 protocol (`Encrypt`, `Decrypt`, `GenerateRandom`), over any `KMSTransport`.
/// Each try is signed afresh (SigV4, service `kms`) with the credentials the provider gives at that moment and the
/// injected clock's time; failures that may pass are tried again as `KMSRetryPolicy` says.
///
/// ```swift
/// let kms = try KMSClient(host: "kms.eu-west-1.amazonaws.com", region: "eu-west-1",
///                         credentials: { try await channel.current() }, transport: transport)
/// let sealed = try await kms.encrypt(KMSEncryptRequest(keyID: key, plaintext: secret, encryptionContext: context))
/// ```
public struct KMSClient: Sendable {
    /// The endpoint's host name, sent as `Host` (with `:port` when the port is not 443).
    public let host: String
    /// The endpoint's TCP port.
    public let port: Int
    /// The region requests are signed for.
    public let region: String
    /// How failed calls are tried again.
    public let retry: KMSRetryPolicy

    let signer: SigV4Signer
    let credentials: @Sendable () async throws -> AWSCredentials
    let transport: any KMSTransport
    let clock: @Sendable () -> Int64
    let sleep: @Sendable (Duration) async throws -> Void

    /// A client for the endpoint `host:port` in `region`. `clock` gives the signing time in seconds since 1970;
    /// `sleep` waits between tries. Throws `invalidRequest` for a host that is not a DNS name or IP address
    /// (1...253 of `A-Z a-z 0-9 . -`), a port outside 1...65535 or a region SigV4 refuses.
    public init(
        host: String,
        port: Int = 443,
        region: String,
        credentials: @escaping @Sendable () async throws -> AWSCredentials,
        transport: any KMSTransport,
        retry: KMSRetryPolicy = KMSRetryPolicy(),
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) },
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) throws(KMSError) {
        let name = Array(host.utf8)
        guard (1...253).contains(name.count),
            name.allSatisfy(Self.isHostCharacter)
        else {
            throw KMSError(.invalidRequest, "host \"\(host)\" is not 1...253 of A-Z a-z 0-9 . -")
        }
        guard (1...65535).contains(port) else { throw KMSError(.invalidRequest, "port \(port) is not 1...65535") }
        do {
            signer = try SigV4Signer(region: region, service: "kms")
        } catch {
            throw KMSError(.invalidRequest, "region: \(error)", underlying: error)
        }
        self.host = host
        self.port = port
        self.region = region
        self.credentials = credentials
        self.transport = transport
        self.retry = retry
        self.clock = clock
        self.sleep = sleep
    }

    /// The `Host` header: the host, with `:port` unless the port is 443.
    public var hostHeader: String { port == 443 ? host : "\(host):\(port)" }

    /// Encrypts under a symmetric key.
    public func encrypt(_ request: KMSEncryptRequest) async throws(KMSError) -> KMSEncryptResponse {
        try await call("Encrypt", request, answer: KMSEncryptResponse.self)
    }

    /// Decrypts; with a recipient the answer must hold `ciphertextForRecipient` and no plaintext, without one the
    /// plaintext and no `ciphertextForRecipient` (`malformedAnswer` otherwise).
    public func decrypt(_ request: KMSDecryptRequest) async throws(KMSError) -> KMSDecryptResponse {
        let answer = try await call("Decrypt", request, answer: KMSDecryptResponse.self)
        try Self.checkRecipientShape(
            recipient: request.recipient != nil,
            plaintext: answer.plaintext,
            forRecipient: answer.ciphertextForRecipient
        )
        return answer
    }

    /// Random bytes from KMS; the same recipient rule as `decrypt`, and a plaintext must be exactly
    /// `numberOfBytes` long.
    public func generateRandom(_ request: KMSGenerateRandomRequest) async throws(KMSError) -> KMSGenerateRandomResponse
    {
        let answer = try await call("GenerateRandom", request, answer: KMSGenerateRandomResponse.self)
        try Self.checkRecipientShape(
            recipient: request.recipient != nil,
            plaintext: answer.plaintext,
            forRecipient: answer.ciphertextForRecipient
        )
        if let plaintext = answer.plaintext, plaintext.count != request.numberOfBytes {
            throw KMSError(.malformedAnswer, "\(plaintext.count) random bytes; \(request.numberOfBytes) asked for")
        }
        return answer
    }

    static func checkRecipientShape(recipient: Bool, plaintext: [UInt8]?, forRecipient: [UInt8]?) throws(KMSError) {
        if recipient {
            guard plaintext == nil, forRecipient != nil else {
                throw KMSError(
                    .malformedAnswer,
                    "a recipient was named: CiphertextForRecipient and no Plaintext expected"
                )
            }
        } else {
            guard plaintext != nil, forRecipient == nil else {
                throw KMSError(
                    .malformedAnswer,
                    "no recipient was named: Plaintext and no CiphertextForRecipient expected"
                )
            }
        }
    }

    /// `A-Z a-z 0-9 . -`: what a DNS name or an IPv4 address is written with.
    static func isHostCharacter(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
            || c == UInt8(ascii: ".") || c == UInt8(ascii: "-")
    }
}
