import EnclaveWire
import NitroAttestation

extension CloisterClient {
    /// Streams the whole receipt log and the boot documents it names into `writer`, one page at a time (the
    /// caller then calls `writer.finish()`). Returns how many receipts and boot documents were written.
    public func exportLog(into writer: AuditStreamWriter) async throws(ClientError) -> (receipts: UInt64, boots: Int) {
        var after: Int64 = 0
        var seen = Set<[UInt8]>()
        while true {
            let page = try await receipts(after: after)
            for e in page.entries {
                try writer.append(index: e.index, signed: e.entry)
                guard let signed = try? SignedReceipt(encoded: e.entry), let r = try? Receipt(encoded: signed.receipt), !seen.contains(r.boot) else { continue }
                seen.insert(r.boot)
                let (status, data, _) = try await send("GET", "v1/boots/" + Hex.encode(r.boot))
                if status == 200 { try writer.addBoot(data) }
            }
            if page.entries.isEmpty || page.next <= after { break }
            after = page.next
        }
        return (writer.receipts, seen.count)
    }
}
