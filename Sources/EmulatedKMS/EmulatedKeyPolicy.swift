import Foundation

/// A KMS key policy as the emulated KMS evaluates it: the JSON that `cloister kms policy` prints (Version,
/// Statement with Sid, Effect, Principal {"AWS": ARN or [ARN]} or "*", Action, Resource, Condition). Like IAM: an
/// explicit Deny wins, then any Allow whose principal, action and every condition match, and otherwise the answer
/// is no. Condition operators other than `StringEquals` and `StringEqualsIgnoreCase` (and their `ForAnyValue`-free
/// forms only) are refused when the policy is read, so that nothing is silently ignored.
public struct EmulatedKeyPolicy: Sendable, Hashable {
    public struct Statement: Sendable, Hashable {
        public var sid: String?
        public var allow: Bool
        /// ARNs, or ["*"].
        public var principals: [String]
        public var actions: [String]
        /// Operator → key → accepted values (any of them).
        public var conditions: [String: [String: [String]]]
    }

    public var statements: [Statement]

    /// Why a policy could not be read.
    public struct ReadError: Error, CustomStringConvertible {
        public let description: String
    }

    public static let operators: Set<String> = ["StringEquals", "StringEqualsIgnoreCase"]
    /// The largest policy accepted (KMS's own limit is 32 KiB).
    public static let maxBytes = 32 * 1024

    public init(statements: [Statement]) { self.statements = statements }

    /// Reads a policy document.
    public init(json: [UInt8]) throws(ReadError) {
        guard json.count <= Self.maxBytes else { throw ReadError(description: "a key policy of \(json.count) bytes (at most \(Self.maxBytes))") }
        guard let top = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any] else {
            throw ReadError(description: "a key policy must be a JSON object")
        }
        guard let list = top["Statement"] as? [[String: Any]], !list.isEmpty else { throw ReadError(description: "no Statement list") }
        func strings(_ value: Any?, _ what: String) throws(ReadError) -> [String] {
            if let s = value as? String { return [s] }
            if let a = value as? [String], !a.isEmpty { return a }
            throw ReadError(description: "\(what) must be a string or a list of strings")
        }
        var statements: [Statement] = []
        for (i, s) in list.enumerated() {
            guard let effect = s["Effect"] as? String, effect == "Allow" || effect == "Deny" else {
                throw ReadError(description: "Statement[\(i)].Effect must be Allow or Deny")
            }
            let principals: [String]
            if let p = s["Principal"] as? String, p == "*" {
                principals = ["*"]
            } else if let p = s["Principal"] as? [String: Any], p.count == 1, let aws = p["AWS"] {
                principals = try strings(aws, "Statement[\(i)].Principal.AWS")
            } else {
                throw ReadError(description: "Statement[\(i)].Principal must be \"*\" or {\"AWS\": ARN}")
            }
            var conditions: [String: [String: [String]]] = [:]
            if let c = s["Condition"] {
                guard let c = c as? [String: Any] else { throw ReadError(description: "Statement[\(i)].Condition must be an object") }
                for (op, body) in c {
                    guard Self.operators.contains(op) else {
                        throw ReadError(description: "Statement[\(i)]: condition operator \(op) is not one the emulated KMS evaluates")
                    }
                    guard let body = body as? [String: Any] else { throw ReadError(description: "Statement[\(i)].Condition.\(op) must be an object") }
                    var keys: [String: [String]] = [:]
                    for (key, value) in body { keys[key] = try strings(value, "Statement[\(i)].Condition.\(op).\(key)") }
                    conditions[op] = keys
                }
            }
            statements.append(
                Statement(
                    sid: s["Sid"] as? String, allow: effect == "Allow", principals: principals,
                    actions: try strings(s["Action"], "Statement[\(i)].Action"), conditions: conditions))
        }
        self.statements = statements
    }

    /// The outcome of a request.
    public enum Decision: Sendable, Hashable {
        case allowed
        case denied(explicitly: Bool)
    }

    /// Whether `principal` may do `action` given the request's condition keys (absent keys match nothing).
    public func evaluate(principal: String, action: String, context: [String: String]) -> Decision {
        var allowed = false
        for s in statements where s.principals.contains(where: { Self.principal($0, matches: principal) }) && s.actions.contains(where: { Self.glob($0, action) }) {
            guard Self.conditionsHold(s.conditions, context) else { continue }
            if !s.allow { return .denied(explicitly: true) }
            allowed = true
        }
        return allowed ? .allowed : .denied(explicitly: false)
    }

    static func conditionsHold(_ conditions: [String: [String: [String]]], _ context: [String: String]) -> Bool {
        for (op, keys) in conditions {
            for (key, values) in keys {
                // Condition keys are case-insensitive in IAM; their values are compared by the operator.
                guard let actual = context.first(where: { $0.key.lowercased() == key.lowercased() })?.value else { return false }
                let match = op == "StringEqualsIgnoreCase" ? values.contains { $0.lowercased() == actual.lowercased() } : values.contains(actual)
                if !match { return false }
            }
        }
        return true
    }

    /// `*` in a statement matches anyone; an account root (`arn:aws:iam::ACCOUNT:root`) matches that account's principals.
    static func principal(_ pattern: String, matches arn: String) -> Bool {
        if pattern == "*" || pattern == arn { return true }
        let p = pattern.split(separator: ":", omittingEmptySubsequences: false)
        let a = arn.split(separator: ":", omittingEmptySubsequences: false)
        return p.count == 6 && a.count == 6 && p[5] == "root" && p[4] == a[4] && p[1] == a[1]
    }

    /// Case-insensitive match with `*` (any run) and `?` (one character), as IAM matches actions.
    static func glob(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.lowercased()), t = Array(text.lowercased())
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count, p[pi] == "?" || p[pi] == t[ti] {
                pi += 1
                ti += 1
            } else if pi < p.count, p[pi] == "*" {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
