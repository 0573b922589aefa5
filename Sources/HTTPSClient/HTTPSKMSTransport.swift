import AWSKMS
import NIOCore
import NIOSSL

/// KMS over HTTPS: each request dials a fresh connection (`dial`: the enclave's egress stream, or TCP) and makes
/// one `HTTPSExchange` on it. A response past the bound is `answerTooLarge`; every other failure is `transport`
/// with the `HTTPSClientError` as its cause.
public struct HTTPSKMSTransport: KMSTransport {
    /// The name the certificate must carry (`kms.eu-west-1.amazonaws.com`).
    public let serverName: String
    /// The only roots a certificate may chain to.
    public let trustRoots: [NIOSSLCertificate]
    /// The largest response body read.
    public let maxResponseBytes: Int
    /// The time limit of one exchange, handshake included.
    public let timeout: TimeAmount
    let dial: @Sendable () async throws -> any Channel

    /// A transport that dials with `dial` and checks the server against `serverName` and `trustRoots`.
    public init(
        serverName: String,
        trustRoots: [NIOSSLCertificate],
        maxResponseBytes: Int = KMSLimits.maxAnswerBytes,
        timeout: TimeAmount = .seconds(10),
        dial: @escaping @Sendable () async throws -> any Channel
    ) {
        self.serverName = serverName
        self.trustRoots = trustRoots
        self.maxResponseBytes = maxResponseBytes
        self.timeout = timeout
        self.dial = dial
    }

    /// Sends `request` on a fresh connection.
    public func exchange(_ request: KMSHTTPRequest) async throws -> KMSHTTPResponse {
        let channel: any Channel
        do {
            channel = try await dial()
        } catch {
            throw KMSError(.transport, "dial: \(error)", underlying: error)
        }
        do {
            let response = try await HTTPSExchange.perform(
                over: channel,
                serverName: serverName,
                trustRoots: trustRoots,
                request: HTTPSRequest(
                    method: request.method,
                    path: request.path,
                    headers: request.headers,
                    body: request.body
                ),
                maxResponseBytes: maxResponseBytes,
                timeout: timeout
            )
            return KMSHTTPResponse(status: response.status, headers: response.headers, body: response.body)
        } catch  where error.code == .responseTooLarge {
            throw KMSError(.answerTooLarge, error.message, underlying: error)
        } catch {
            throw KMSError(.transport, "\(error)", underlying: error)
        }
    }
}
