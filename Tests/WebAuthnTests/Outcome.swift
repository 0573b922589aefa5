import Testing
import WebAuthn

/// What a vector expects: "ok", or the raw value of the one `WebAuthnErrorCode` that must refuse it.
enum Outcome {
    /// Records a failure unless `result` is what `expected` says, naming the vector.
    static func check<T>(
        _ result: Result<T, WebAuthnError>,
        _ expected: String,
        _ name: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        switch result {
        case .success:
            #expect(expected == "ok", "\(name): accepted, expected \(expected)", sourceLocation: sourceLocation)
        case .failure(let error):
            #expect(
                error.code.rawValue == expected,
                "\(name): refused with \(error), expected \(expected)",
                sourceLocation: sourceLocation
            )
        }
    }
}
