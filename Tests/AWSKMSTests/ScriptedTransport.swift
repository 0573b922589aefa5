import AWSKMS

/// A transport that answers from a script, one entry a request, and keeps the requests it was given.
actor ScriptedTransport: KMSTransport {
    enum Step: Sendable {
        case answer(KMSHTTPResponse)
        case fail(any Error & Sendable)
    }

    struct Unreachable: Error {}

    private var steps: [Step]
    private(set) var requests: [KMSHTTPRequest] = []

    init(_ steps: [Step]) { self.steps = steps }

    func exchange(_ request: KMSHTTPRequest) async throws -> KMSHTTPResponse {
        requests.append(request)
        guard !steps.isEmpty else { throw Unreachable() }
        switch steps.removeFirst() {
        case .answer(let response): return response
        case .fail(let error): throw error
        }
    }

    /// A JSON answer with `status`.
    static func json(_ status: Int, _ text: String) -> Step {
        .answer(
            KMSHTTPResponse(
                status: status,
                headers: [("Content-Type", "application/x-amz-json-1.1")],
                body: Array(text.utf8)
            )
        )
    }
}

/// Delays the client was asked to wait, in order.
actor SleepLog {
    private(set) var delays: [Duration] = []
    func record(_ d: Duration) { delays.append(d) }
}
