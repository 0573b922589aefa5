import NitroAttestation

extension AuditLog {
    /// Writes this log in the binary form (`AuditStream`) to `path`.
    public func write(streamTo path: String) throws(ClientError) {
        let writer = try AuditStreamWriter(path: path, source: source)
        for hex in boots.keys.sorted() { try writer.addBoot(boots[hex]!) }
        for e in receipts { try writer.append(index: e.index, signed: e.entry) }
        try writer.finish()
    }
}
