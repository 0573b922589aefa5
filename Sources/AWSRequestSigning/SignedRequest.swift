/// What signing a request gave: the headers to add to it, and the intermediate texts the signature covers.
public struct SignedRequest: Sendable, Hashable {
    /// The headers to add, in this order: `X-Amz-Date`, `X-Amz-Security-Token` (temporary credentials),
    /// `X-Amz-Content-Sha256` (when the signer was asked for it), then `Authorization`.
    public let headers: [SignableRequest.Header]
    /// The canonical request (task 1 of the specification), as hashed.
    public let canonicalRequest: String
    /// The string to sign (task 2): algorithm, time, credential scope and the canonical request's hash.
    public let stringToSign: String
    /// The signature, lower-case hex of HMAC-SHA256 under the derived signing key.
    public let signature: String

    /// The `Authorization` header's value.
    public var authorization: String {
        headers.first { $0.name == "Authorization" }?.value ?? ""
    }
}
