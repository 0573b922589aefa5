import NitroAttestation

/// Nitro's PCR semantics in software: 32 SHA-384 registers; extend = SHA384(old ‖ data); 0...15 locked at boot;
/// 16...31 extendable and lockable by the workload; a locked register refuses extension with `ReadOnlyIndex`.
public struct PCRBank: Sendable, Hashable {
    /// Registers in the module.
    public static let count = 32
    /// Registers locked at boot.
    public static let bootLocked = 0..<16
    /// Largest data accepted by one extend.
    public static let maxExtendSize = 1024
    /// A register's initial value.
    public static let zero = [UInt8](repeating: 0, count: 48)

    public private(set) var values: [[UInt8]]
    public private(set) var locked: [Bool]
    /// Registers changed after boot (so documents carry them).
    public private(set) var touched: Set<Int> = []

    /// A bank holding the boot measurements, with 0...15 locked.
    public init(boot: [Int: [UInt8]]) {
        values = (0..<Self.count).map { boot[$0] ?? Self.zero }
        locked = (0..<Self.count).map { Self.bootLocked.contains($0) }
    }

    func index(_ i: UInt16) throws(NSMError) -> Int {
        guard Int(i) < Self.count else { throw NSMError(.invalidIndex, "PCR\(i) is beyond the module's \(Self.count)") }
        return Int(i)
    }

    public func describe(_ i: UInt16) throws(NSMError) -> (locked: Bool, value: [UInt8]) {
        let i = try index(i)
        return (locked[i], values[i])
    }

    public mutating func extend(_ i: UInt16, _ data: [UInt8]) throws(NSMError) -> [UInt8] {
        let i = try index(i)
        guard data.count <= Self.maxExtendSize else { throw NSMError(.inputTooLarge, "extend data of \(data.count) bytes") }
        guard !locked[i] else { throw NSMError(.readOnlyIndex, "PCR\(i) is locked") }
        values[i] = SHA.sha384(values[i] + data)
        touched.insert(i)
        return values[i]
    }

    public mutating func lock(_ i: UInt16) throws(NSMError) {
        let i = try index(i)
        guard !locked[i] else { throw NSMError(.readOnlyIndex, "PCR\(i) is already locked") }
        locked[i] = true
        touched.insert(i)
    }

    /// Locks 0 ..< range; registers already locked stay locked.
    public mutating func lock(range: UInt16) throws(NSMError) {
        guard Int(range) <= Self.count else { throw NSMError(.invalidIndex, "range \(range) is beyond the module's \(Self.count)") }
        for i in 0..<Int(range) where !locked[i] {
            locked[i] = true
            touched.insert(i)
        }
    }

    /// What a document carries: 0...15 always, and every register the workload touched.
    public var attested: [Int: [UInt8]] {
        var out: [Int: [UInt8]] = [:]
        for i in 0..<Self.count where Self.bootLocked.contains(i) || touched.contains(i) { out[i] = values[i] }
        return out
    }

    public var lockedIndexes: [UInt16] { (0..<Self.count).filter { locked[$0] }.map { UInt16($0) } }
}
