import NitroAttestation

/// The entry point for libFuzzer and for tests: feeds arbitrary bytes to the export reader and the streaming
/// verifier and traps (`precondition`) when an invariant breaks; thrown `ClientError`s are expected. Reads no file.
public enum AuditStreamFuzzing {
    /// A verifier that trusts no root: every boot fails to attest, so only the reading and the checks before a
    /// boot is adopted (log indexes, gaps, the end record) run on hostile bytes.
    static let verifier = AuditVerifier(trust: TrustManifest(pcrs: [:]), roots: TrustedRoots(certificates: []))

    /// Reads `data` as an export. Invariants: every record read is within the format's bounds and re-encodes to
    /// exactly the bytes it was read from (one spelling per record); a reader that reached the end record says so
    /// again and reads nothing more; the verifier returns a report and never traps, verifies no receipt, and passes
    /// only a whole file without records.
    public static func fuzz(_ data: [UInt8]) {
        guard let reader = try? AuditStreamReader(bytes: data) else { return }
        precondition(reader.header.boots.count <= AuditStream.maxBoots, "more boots than the bound")
        var start = reader.offset
        var records = 0
        var whole = false
        while true {
            let record: AuditRecord?
            do { record = try reader.next() } catch { break }
            guard let record else {
                precondition((try? reader.next()) == .some(nil), "a reader read past its end record")
                precondition(reader.offset == data.count, "bytes after the end record were accepted")
                whole = true
                break
            }
            let read = Array(data[start..<reader.offset])
            switch record {
            case .batch(let batch):
                precondition((1...4096).contains(batch.entries.count), "a batch outside 1...4096 receipts")
                precondition(batch.entries.allSatisfy { $0.index >= 0 && UInt64($0.index) < AuditStream.maxIndex }, "an index out of range")
                precondition((try? AuditStream.encode(batch)) == read, "a batch record does not re-encode to its bytes")
            case .gap(let from, let count):
                precondition(count >= 1 && from + count <= AuditStream.maxIndex, "a gap out of range")
                precondition((try? AuditStream.encodeGap(from: from, count: count)) == read, "a gap record does not re-encode to its bytes")
            }
            start = reader.offset
            records += 1
        }
        guard let again = try? AuditStreamReader(bytes: data) else { preconditionFailure("a header read once is refused the second time") }
        let report = verifier.verify(again)
        precondition(report.verified == 0 && report.boots.isEmpty, "a receipt verified with no root trusted")
        precondition(!report.passed || (whole && records == 0), "a log with records passed with no root trusted")
    }
}
