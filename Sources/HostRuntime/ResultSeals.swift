import CBOR
import EnclaveWire
import NitroAttestation

/// The host's check of the results a proven `queue` connection posts, before any of them is stored: each signed
/// response carries its receipt, the receipt names this boot, the job's sequence and status and the result's hash,
/// and sits under a seal that the key which proved the connection signed. The host cannot make these; checking them
/// means nothing but the enclave's own answers ever fills a job (the first stored answer is the one kept).
struct ResultSeals {
    let key: ES384PublicKey
    /// Seals already verified on this connection (a batch shares one); forgotten past `remembered`.
    private var verified: Set<[UInt8]> = []
    static let remembered = 256

    init(key: ES384PublicKey) { self.key = key }

    /// Nil when every item holds; otherwise why the first one that does not fails.
    mutating func check(boot: [UInt8], items: [QueueResult]) -> String? {
        for item in items {
            if let reason = check(boot: boot, item) { return "job \(item.jobID): \(reason)" }
        }
        return nil
    }

    private mutating func check(boot: [UInt8], _ item: QueueResult) -> String? {
        let signed: SignedReceipt
        let response: SignedResponse
        let receipt: Receipt
        do {
            signed = try SignedReceipt(encoded: item.receipt)
            response = try SignedResponse(encoded: item.response)
            receipt = try Receipt(encoded: signed.receipt)
        } catch { return "unreadable: \(error)" }
        guard response.signed.receipt == signed.receipt, response.signed.seal == signed.seal else { return "the response carries another receipt" }
        guard receipt.boot == boot, receipt.sequence == item.sequence, receipt.status == item.status else {
            return "the receipt names another boot, sequence or status"
        }
        guard receipt.resultHash == SHA.sha256(response.result) else { return "the receipt does not commit to the result" }
        let seal: Seal
        do {
            let item = try CBORDecoder(limits: .init(maxInputSize: Seal.maxSize, maxDepth: 3, maxItems: 16)).decode(signed.seal)
            let envelope = try COSESign1(item)
            if !verified.contains(signed.seal) {
                guard key.verify(envelope) else { return "the seal is not signed by the key that proved this connection" }
                if verified.count >= Self.remembered { verified.removeAll() }
                verified.insert(signed.seal)
            }
            seal = try Seal(payload: envelope.payload)
        } catch { return "unreadable seal: \(error)" }
        guard seal.boot == boot, seal.covers(receipt.sequence),
            MerkleTree.verify(
                leafHash: MerkleTree.leafHash(signed.receipt), index: receipt.sequence - seal.first, size: seal.count, proof: signed.proof, root: seal.root)
        else { return "the receipt is not under its seal" }
        return nil
    }
}
