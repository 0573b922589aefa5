import CLoopback

#if canImport(Glibc)
import Glibc
#endif

/// The enclave's loopback interface. A Nitro Enclave boots with `lo` down and without an address, and the
/// enclave's egress proxy and local ingress routes live on 127.0.0.1, so the enclave brings it up itself.
public enum Loopback {
    /// What `ensureUp` found or did.
    public enum Outcome: Equatable, Sendable {
        case alreadyUp
        case broughtUp
    }

    /// Why the loopback interface could not be brought up.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Brings `lo` up with 127.0.0.1/8 unless it is up already.
    public static func ensureUp() throws(Failure) -> Outcome {
        switch cloister_loopback_is_up() {
        case 1: return .alreadyUp
        case 0: break
        default: throw Failure(description: "cannot read the flags of lo: \(String(cString: strerror(errno)))")
        }
        guard cloister_loopback_up() == 0 else {
            throw Failure(description: "cannot bring lo up with 127.0.0.1/8: \(String(cString: strerror(errno)))")
        }
        return .broughtUp
    }
}
