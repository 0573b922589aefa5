import CloisterClient
import Foundation
import NitroAttestation

/// The deployment a client command expects of one service: the commitment `known-deployments` remembers for its
/// URL (trust on first use, as SSH does with host keys), checked against the manifest's pin when it has one.
struct ServiceDeployment {
    let url: URL
    private(set) var known: KnownDeployments

    /// Reads what is remembered (`KnownDeployments.defaultPath()`); a malformed file is an error.
    init(url: URL) throws {
        self.url = url
        known = try KnownDeployments.load()
    }

    /// The commitment remembered for the service, nil if none.
    var remembered: [UInt8]? { known[url] }

    /// What a user who expected the change does, and what it means otherwise.
    var advice: String {
        "If the change is expected (a new deployment made on purpose), run `cloister connect \(url.absoluteString) --manifest PINS "
            + "--accept-new-master` to remember the new one; if not, the host may have hidden the sealed master secret to make a new deployment appear"
    }

    /// Refuses a manifest whose pin is not the remembered commitment: one of them is out of date, and only the
    /// user can say which.
    func check(pin: [UInt8]?) throws(ClientError) {
        guard let pin, let remembered, pin != remembered else { return }
        throw ClientError(
            .deploymentChanged,
            "the manifest pins deployment \(Hex.encode(pin)), but \(Hex.encode(remembered)) is remembered for \(url.absoluteString) (in \(known.path)). \(advice)")
    }

    /// A `deploymentChanged` error of the client, with where the expected commitment comes from and what to do.
    func explain(_ error: ClientError, context: String = "") -> ClientError {
        let source = remembered.map { "\(Hex.encode($0)) is remembered for \(url.absoluteString) in \(known.path)" } ?? "the manifest pins it"
        return ClientError(.deploymentChanged, "\(context)\(error.message) (\(source)). \(advice)")
    }

    /// After a verification that found `presented`: when nothing is remembered yet, remembers it (trust on first
    /// use) and returns the line that says so; nil when nothing changed.
    mutating func learn(_ presented: [UInt8]?) throws -> String? {
        guard remembered == nil, let presented else { return nil }
        known.remember(presented, for: url)
        try known.save()
        return "new deployment \(Hex.encode(presented)) remembered for \(url.absoluteString) (in \(known.path))"
    }

    /// `connect`: what the presented commitment means against the remembered one. `acceptNew` replaces a
    /// different one (or forgets it, when the enclave presents none); without it, a difference is an error.
    mutating func settle(_ presented: [UInt8]?, acceptNew: Bool) throws -> String {
        if let line = try learn(presented) { return line }
        guard let remembered else { return "no deployment to remember for \(url.absoluteString): this enclave presents no commitment" }
        if presented == remembered { return "deployment \(Hex.encode(remembered)) matches the one remembered for \(url.absoluteString) (in \(known.path))" }
        guard acceptNew else {
            let shown = presented.map { "deployment \(Hex.encode($0))" } ?? "no deployment commitment"
            throw explain(ClientError(.deploymentChanged, "the enclave presents \(shown), not \(Hex.encode(remembered))"))
        }
        known.remember(presented, for: url)
        try known.save()
        guard let presented else {
            return "deployment \(Hex.encode(remembered)) forgotten for \(url.absoluteString) (in \(known.path)): this enclave presents none (--accept-new-master)"
        }
        return "new deployment \(Hex.encode(presented)) replaces \(Hex.encode(remembered)) for \(url.absoluteString) (in \(known.path)), as --accept-new-master asks"
    }
}
