import AWSRequestSigning
import Foundation

/// One call: the body encoded and checked once, then signed, sent and judged on every try.
extension KMSClient {
    /// `TrentService.<operation>`, the `X-Amz-Target` of JSON 1.1.
    static func target(_ operation: String) -> String { "TrentService.\(operation)" }
    static let contentType = "application/x-amz-json-1.1"

    func call<Request: Codable, Answer: Decodable>(
        _ operation: String,
        _ request: Request,
        answer: Answer.Type
    ) async throws(KMSError) -> Answer {
        let body = try Self.encode(request)
        var attempt = 1
        while true {
            let failure: KMSError
            let status: Int?
            switch await once(operation, body: body, answer: answer) {
            case .answer(let value): return value
            case .failed(let error, let s): (failure, status) = (error, s)
            }
            guard attempt < retry.maxAttempts, KMSRetryPolicy.isRetryable(failure.code, status: status) else {
                throw failure
            }
            do { try await sleep(retry.delay(afterAttempt: attempt)) } catch { throw failure }
            attempt += 1
        }
    }

    enum Outcome<Answer> {
        case answer(Answer)
        case failed(KMSError, status: Int?)
    }

    func once<Answer: Decodable>(_ operation: String, body: [UInt8], answer: Answer.Type) async -> Outcome<Answer> {
        let current: AWSCredentials
        do {
            current = try await credentials()
        } catch {
            return .failed(KMSError(.credentialsUnavailable, "\(error)", underlying: error), status: nil)
        }
        let request: KMSHTTPRequest
        do {
            request = try httpRequest(operation, body: body, credentials: current, secondsSince1970: clock())
        } catch {
            return .failed(KMSError(.invalidRequest, "signing: \(error)", underlying: error), status: nil)
        }
        let response: KMSHTTPResponse
        do {
            response = try await transport.exchange(request)
        } catch let error as KMSError {
            return .failed(error, status: nil)
        } catch {
            return .failed(KMSError(.transport, "\(error)", underlying: error), status: nil)
        }
        guard response.body.count <= KMSLimits.maxAnswerBytes else {
            return .failed(
                KMSError(.answerTooLarge, "\(response.body.count) bytes; at most \(KMSLimits.maxAnswerBytes)"),
                status: response.status
            )
        }
        guard response.status == 200 else {
            return .failed(Self.error(from: response), status: response.status)
        }
        do {
            return .answer(try JSONDecoder().decode(Answer.self, from: Data(response.body)))
        } catch {
            return .failed(
                KMSError(.malformedAnswer, "\(operation) answer: \(Self.describe(error))", underlying: error),
                status: response.status
            )
        }
    }

    /// The signed HTTP request for `operation` with `body`.
    func httpRequest(
        _ operation: String,
        body: [UInt8],
        credentials: AWSCredentials,
        secondsSince1970: Int64
    ) throws(AWSSigningError) -> KMSHTTPRequest {
        let headers: [SignableRequest.Header] = [
            .init("Host", hostHeader), .init("Content-Type", Self.contentType),
            .init("X-Amz-Target", Self.target(operation)),
        ]
        let signed = try signer.sign(
            SignableRequest(method: "POST", path: "/", headers: headers, body: body),
            credentials: credentials,
            secondsSince1970: secondsSince1970
        )
        return KMSHTTPRequest(
            method: "POST",
            path: "/",
            headers: (headers + signed.headers).map { ($0.name, $0.value) },
            body: body
        )
    }

    /// The JSON of `request`, refused (`invalidRequest`) unless it decodes again under the rules a server applies.
    static func encode<Request: Codable>(_ request: Request) throws(KMSError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            let data = try encoder.encode(request)
            _ = try JSONDecoder().decode(Request.self, from: data)
            return [UInt8](data)
        } catch {
            throw KMSError(.invalidRequest, describe(error), underlying: error)
        }
    }

    /// The code and message of an error answer: its `KMSErrorBody`, else its `X-Amzn-ErrorType` header, else
    /// `other` with the status and the start of the body.
    static func error(from response: KMSHTTPResponse) -> KMSError {
        let status = response.status
        if let body = try? JSONDecoder().decode(KMSErrorBody.self, from: Data(response.body)) {
            return KMSError(body.code, "HTTP \(status) \(body.type): \(body.message ?? "(no message)")")
        }
        if let type = response.header("X-Amzn-ErrorType") {
            return KMSError(KMSErrorCode(awsType: type), "HTTP \(status) \(type) (header): \(snippet(response.body))")
        }
        return KMSError(.other, "HTTP \(status) without a KMS error body: \(snippet(response.body))")
    }

    /// The first 300 bytes of `body` as text, control characters shown as `.`.
    static func snippet(_ body: [UInt8]) -> String {
        String(decoding: body.prefix(300).map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: ".") : $0 }, as: UTF8.self)
    }

    static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .dataCorrupted(let c), .keyNotFound(_, let c), .typeMismatch(_, let c), .valueNotFound(_, let c):
            let path = c.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? c.debugDescription : "\(path): \(c.debugDescription)"
        default:
            return "\(error)"
        }
    }
}
