import Logging

/// Starts one enclave and reports its end. Two implementations: `nitro-cli` on a Nitro parent instance, and a
/// child process in emulation; the supervisor uses either the same way.
public protocol EnclaveLauncher: Sendable {
    /// Starts an enclave; `onExit` is called once, when it is gone (with a sentence saying how it ended).
    func launch(onExit: @escaping @Sendable (String) -> Void) async throws -> any LaunchedEnclave
}

/// A running enclave.
public protocol LaunchedEnclave: Sendable {
    /// Its process id (emulation) or enclave id (Nitro), for logs and health.
    var identifier: String { get }
    /// Stops it: asks first, then forces after `grace`. Returns once it is gone.
    func terminate(grace: Duration) async
}

/// Why an enclave could not be started.
public struct LaunchError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
