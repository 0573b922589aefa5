/// Comparison of secrets and MACs whose time does not depend on where they differ.
public enum ConstantTime {
    /// Whether `a` and `b` are equal; the lengths are public, the contents are not.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var d: UInt8 = 0
        for i in a.indices { d |= a[i] ^ b[i] }
        return d == 0
    }
}
