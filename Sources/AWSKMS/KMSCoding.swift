import Foundation
import NitroAttestation

/// The field rules every KMS message decodes with: base64 in its canonical form (standard alphabet, padded, no
/// whitespace) and sizes checked before the text is decoded.
extension KeyedDecodingContainer {
    func decodeBytes(_ key: Key, max: Int) throws -> [UInt8] {
        let text = try decode(String.self, forKey: key)
        // 4 characters for every 3 bytes: anything longer cannot fit, whatever it holds.
        guard text.utf8.count <= (max + 2) / 3 * 4 else {
            throw DecodingError.dataCorruptedError(
                forKey: key,
                in: self,
                debugDescription: "\(text.utf8.count) base64 characters; at most \(max) bytes"
            )
        }
        guard let data = Data(base64Encoded: text), case let bytes = [UInt8](data), Base64.encode(bytes) == text else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "not canonical base64")
        }
        guard (1...max).contains(bytes.count) else {
            throw DecodingError.dataCorruptedError(
                forKey: key,
                in: self,
                debugDescription: "\(bytes.count) bytes; 1...\(max) accepted"
            )
        }
        return bytes
    }

    func decodeBytesIfPresent(_ key: Key, max: Int) throws -> [UInt8]? {
        try isAbsent(key) ? nil : decodeBytes(key, max: max)
    }

    /// A `Plaintext` beside a `CiphertextForRecipient`: KMS documents it as null or empty then, so an empty string
    /// is no plaintext.
    func decodePlaintextIfPresent(_ key: Key, max: Int) throws -> [UInt8]? {
        if try !isAbsent(key), (try? decode(String.self, forKey: key)) == "" { return nil }
        return try decodeBytesIfPresent(key, max: max)
    }

    func decodeName(_ key: Key, max: Int) throws -> String {
        let text = try decode(String.self, forKey: key)
        guard (1...max).contains(text.utf8.count) else {
            throw DecodingError.dataCorruptedError(
                forKey: key,
                in: self,
                debugDescription: "\(text.utf8.count) bytes; 1...\(max) accepted"
            )
        }
        return text
    }

    func decodeNameIfPresent(_ key: Key, max: Int) throws -> String? {
        try isAbsent(key) ? nil : decodeName(key, max: max)
    }

    func decodeContextIfPresent(_ key: Key) throws -> [String: String]? {
        guard !(try isAbsent(key)) else { return nil }
        let context = try decode([String: String].self, forKey: key)
        let size = context.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        guard size <= KMSLimits.maxEncryptionContext else {
            throw DecodingError.dataCorruptedError(
                forKey: key,
                in: self,
                debugDescription: "\(size) bytes of keys and values; at most \(KMSLimits.maxEncryptionContext)"
            )
        }
        return context
    }
}

extension KeyedDecodingContainer {
    /// An absent key and `null` both mean "not given" (`decodeNil` alone throws for an absent key).
    fileprivate func isAbsent(_ key: Key) throws -> Bool {
        guard contains(key) else { return true }
        return try decodeNil(forKey: key)
    }
}

extension KeyedEncodingContainer {
    mutating func encodeBytes(_ bytes: [UInt8], forKey key: Key) throws {
        try encode(Base64.encode(bytes), forKey: key)
    }

    mutating func encodeBytesIfPresent(_ bytes: [UInt8]?, forKey key: Key) throws {
        if let bytes { try encodeBytes(bytes, forKey: key) }
    }
}
