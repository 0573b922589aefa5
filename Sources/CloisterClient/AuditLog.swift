import Foundation
import NitroAttestation

/// A receipt log with the attestation documents it needs, so that an auditor can verify it with no network.
///
/// File form (JSON): `{"format": "cloister-audit/1", "source": URL, "receipts": [{"n": N, "entry": BASE64}, ...],
/// "boots": {HEX-SHA256: BASE64-DOCUMENT, ...}}`. `entry` is a signed receipt (`SignedReceipt`) as the host stores
/// it; `n` is the host's log index.
public struct AuditLog: Sendable {
    public struct Entry: Sendable, Hashable {
        public var index: Int64
        public var entry: [UInt8]
        public init(index: Int64, entry: [UInt8]) {
            self.index = index
            self.entry = entry
        }
    }

    public static let format = "cloister-audit/1"
    /// Largest log file read.
    public static let maxFileSize = 1 << 30

    public var source: String
    public var receipts: [Entry]
    /// Boot attestation documents by the hex of their SHA-256.
    public var boots: [String: [UInt8]]

    public init(source: String, receipts: [Entry], boots: [String: [UInt8]]) {
        self.source = source
        self.receipts = receipts
        self.boots = boots
    }

    public var json: String {
        var out = "{\"format\":\"\(Self.format)\",\"source\":\"\(Self.escape(source))\",\"receipts\":["
        out += receipts.map { "\n{\"n\":\($0.index),\"entry\":\"\(Base64.encode($0.entry))\"}" }.joined(separator: ",")
        out += "\n],\"boots\":{"
        out += boots.keys.sorted().map { "\n\"\($0)\":\"\(Base64.encode(boots[$0]!))\"" }.joined(separator: ",")
        out += "\n}}\n"
        return out
    }

    public init(json bytes: [UInt8]) throws(ClientError) {
        guard bytes.count <= Self.maxFileSize else { throw ClientError(.malformedLog, "larger than \(Self.maxFileSize) bytes") }
        guard let value = try? JSONValue.parse(bytes), let top = value.object else { throw ClientError(.malformedLog, "not a JSON object") }
        for key in top.keys where !["format", "source", "receipts", "boots"].contains(key) {
            throw ClientError(.malformedLog, "unknown key \"\(key.prefix(40))\"")
        }
        guard top["format"]?.string == Self.format else { throw ClientError(.malformedLog, "\"format\" is not \"\(Self.format)\"") }
        guard let list = top["receipts"]?.items else { throw ClientError(.malformedLog, "\"receipts\" must be an array") }
        var entries: [Entry] = []
        entries.reserveCapacity(list.count)
        for (i, item) in list.enumerated() {
            guard let o = item.object, o.count == 2, let n = o["n"]?.number, n >= 0, n == n.rounded(), n < 9e15, let text = o["entry"]?.string,
                let entry = Base64.decode(text)
            else { throw ClientError(.malformedLog, "receipts[\(i)] must be {\"n\": N, \"entry\": BASE64}") }
            entries.append(Entry(index: Int64(n), entry: entry))
        }
        var boots: [String: [UInt8]] = [:]
        if let b = top["boots"] {
            guard let o = b.object else { throw ClientError(.malformedLog, "\"boots\" must be an object") }
            for (hex, v) in o {
                guard let h = Hex.decode(hex), h.count == 32, let text = v.string, let doc = Base64.decode(text) else {
                    throw ClientError(.malformedLog, "boots must map 64 hex digits to a base64 document")
                }
                boots[Hex.encode(h)] = doc
            }
        }
        self.init(source: top["source"]?.string ?? "", receipts: entries, boots: boots)
    }

    /// `s` as the inside of a JSON string.
    public static func escape(_ s: String) -> String {
        s.unicodeScalars.map { c -> String in
            switch c {
            case "\"": return "\\\""
            case "\\": return "\\\\"
            case _ where c.value < 0x20: return String(format: "\\u%04x", c.value)
            default: return String(c)
            }
        }.joined()
    }
}
