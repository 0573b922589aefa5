import EnclaveWire
import NitroAttestation

/// A job's JSON body, read strictly.
struct Input: Sendable {
    let object: [String: JSONValue]

    /// The empty body.
    static let empty = Input(object: [:])

    init(object: [String: JSONValue]) { self.object = object }

    init(_ body: [UInt8]) throws(KeyServiceError) {
        if body.isEmpty {
            object = [:]
            return
        }
        guard body.count <= 256 * 1024, let value = try? JSONValue.parse(body), let o = value.object else {
            throw KeyServiceError("badRequest", "the body must be a JSON object")
        }
        object = o
    }

    /// Refuses any field outside `known`, so that a misspelled option is never ignored.
    func only(_ known: Set<String>, operation: String) throws(KeyServiceError) {
        for key in object.keys.sorted() where !known.contains(key) {
            throw KeyServiceError("badRequest", "unknown field \"\(key.prefix(40))\" (\(operation) takes: \(known.sorted().joined(separator: ", ")))")
        }
    }

    func string(_ key: String) throws(KeyServiceError) -> String {
        guard let s = object[key]?.string else { throw KeyServiceError("badRequest", "\"\(key)\" is required (a string)") }
        return s
    }

    func name() throws(KeyServiceError) -> String {
        let n = try string("name")
        guard RequestLimits.isValidName(n) else { throw KeyServiceError("badRequest", "a key name is 1 to 64 of a-z 0-9 - _ . starting with a letter or digit") }
        return n
    }

    func bytes(_ key: String) throws(KeyServiceError) -> [UInt8] {
        guard let b = Base64.decode(try string(key)) else { throw KeyServiceError("badRequest", "\"\(key)\" must be base64") }
        return b
    }

    func optionalBytes(_ key: String) throws(KeyServiceError) -> [UInt8]? {
        guard object[key] != nil else { return nil }
        return try bytes(key)
    }

    func optionalBool(_ key: String) throws(KeyServiceError) -> Bool? {
        guard let v = object[key] else { return nil }
        guard let b = v.bool else { throw KeyServiceError("badRequest", "\"\(key)\" must be true or false") }
        return b
    }

    func optionalUInt(_ key: String) throws(KeyServiceError) -> UInt64? {
        guard let v = object[key] else { return nil }
        guard let n = v.number, n >= 0, n == n.rounded(), n < 1e15 else { throw KeyServiceError("badRequest", "\"\(key)\" must be a whole number") }
        return UInt64(n)
    }
}
