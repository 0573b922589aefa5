import Logging
import ServiceLifecycle

/// A witness following its host: a round at once, then one every `interval`, until graceful shutdown. A round
/// that fails is logged with its code and the next one tries again; a refused head is never cosigned, and every
/// later round is judged against the newest head cosigned before it.
public struct WitnessService: Service {
    public let witness: Witness
    public let interval: Duration
    let logger: Logger

    public init(witness: Witness, interval: Duration, logger: Logger) {
        self.witness = witness
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await follow() }
    }

    /// Rounds until cancelled (a graceful shutdown cancels the sleep or the round in flight; the state is written
    /// whole or not at all).
    private func follow() async {
        while !Task.isCancelled {
            do {
                let round = try await witness.round()
                logger.info("cosigned", metadata: ["size": "\(round.checkpoint.size)", "advanced": "\(round.advanced)", "origin": "\(round.checkpoint.origin)"])
            } catch {
                let refused = error.code == .logForked || error.code == .logRolledBack
                logger.log(level: refused ? .critical : .error, "round failed", metadata: ["code": "\(error.code.rawValue)", "error": "\(error.message)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
