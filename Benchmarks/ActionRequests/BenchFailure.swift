/// Why a step of the benchmark's setup, generation or check failed, in words for the report.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
