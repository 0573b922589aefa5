import AWSRequestSigning
import EnclaveWire
import Logging
import NIOCore
import VsockBridge

/// The AWS credentials the host holds for the instance role, asked for on the `credentials` channel before each
/// use. They are not secret from the host (it fetched them); they only let the enclave's own requests be signed.
public final class CredentialsClient: Sendable {
    private let link: NumberedLink<CredentialsMessage>

    public init(bridge: BridgeAddress, prover: ChannelProver, maxFrameSize: Int, group: EventLoopGroup, logger: Logger, timeout: TimeAmount = .seconds(10)) {
        link = NumberedLink(
            channel: .credentials, bridge: bridge, prover: prover, maxFrameSize: maxFrameSize, group: group, logger: logger, timeout: timeout,
            parse: { try CredentialsMessage(encoded: $0) }, answerID: \.answerID)
    }

    public func start() { link.start() }
    public func stop() { link.stop() }

    /// The host's current credentials; refused ones, or ones already expired at `now`, are an error.
    public func current(now: Int64) async throws -> AWSCredentials {
        switch try await link.request({ CredentialsMessage.request(id: $0).encoded }) {
        case .credentials(_, let key, let secret, let token, let expiration):
            guard expiration > now else {
                throw SealingRefusal(code: "credentialsExpired", reason: "the host's AWS credentials expired \(now - expiration) s ago")
            }
            return try AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: token)
        case .refused(_, let code, let reason):
            throw SealingRefusal(code: "credentialsUnavailable", reason: "the host has no AWS credentials (\(code)): \(reason)")
        case .request:
            throw SealingRefusal(code: "protocol", reason: "the host sent a request on the credentials channel")
        }
    }
}
