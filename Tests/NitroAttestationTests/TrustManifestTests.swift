import Testing

@testable import NitroAttestation

@Suite struct TrustManifestTests {
    static let pcr0 = String(repeating: "ab", count: 48)
    static let pcr1 = String(repeating: "cd", count: 48)

    func parse(_ json: String) throws(TrustManifest.Error) -> TrustManifest {
        try TrustManifest.parse(Array(json.utf8))
    }

    @Test func readsCloisterManifests() throws {
        let m = try parse("""
            {"name": "dev", "attestation": {"pcrs": {"PCR0": "\(Self.pcr0)", "PCR1": "\(Self.pcr1.uppercased())"},
             "allowDebug": true, "maxAgeSeconds": 300}, "enclave": {"cpus": 2}, "egress": []}
            """)
        #expect(m.pcrs == [0: Hex.decode(Self.pcr0)!, 1: Hex.decode(Self.pcr1)!])
        #expect(m.allowDebug == true)
        #expect(m.maxAgeSeconds == 300)
        #expect(m.format == "cloister")
        #expect(m.policy().maxAge == 300_000)
    }

    @Test func readsNitroCLIOutputAsIs() throws {
        let build = try parse("""
            {"Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": "\(Self.pcr0)", "PCR1": "\(Self.pcr1)", "PCR2": "\(Self.pcr0)"}}
            """)
        #expect(build.pcrs.keys.sorted() == [0, 1, 2])
        #expect(build.format == "nitro-cli")
        // describe-eif prints more around the measurements; newer nitro-cli names the algorithm differently.
        let describe = try parse("""
            {"EifVersion": 4, "Measurements": {"HashAlgorithm": "Sha512_384 { .. }", "PCR0": "\(Self.pcr0)", "PCR8": "\(Self.pcr1)"},
             "IsSigned": true, "CheckCRC": true, "ImageName": "x", "Metadata": {"BuildTime": "now"}}
            """)
        #expect(describe.pcrs.keys.sorted() == [0, 8])
        #expect(describe.policy().allowDebug == false)
    }

    static let refused: [(String, String)] = [
        ("not json", "not valid JSON"),
        ("[]", "top level"),
        ("{}", "no \"attestation\""),
        (#"{"attestation": {"pcrs": {}}, "surprise": 1}"#, "unknown key \"surprise\""),
        (#"{"attestation": {"pcrs": {}, "allowdebug": true}}"#, "unknown key \"attestation.allowdebug\""),
        (#"{"attestation": {"pcrs": []}}"#, "must be an object"),
        (#"{"attestation": {"pcrs": {"PCR32": "00"}}}"#, "not a PCR name"),
        (#"{"attestation": {"pcrs": {"PCR01": "00"}}}"#, "not a PCR name"),
        (#"{"attestation": {"pcrs": {"pcr0": "00"}}}"#, "not a PCR name"),
        (#"{"attestation": {"pcrs": {"PCR0": "abc"}}}"#, "hex of 32, 48 or 64 bytes"),
        (#"{"attestation": {"pcrs": {"PCR0": "00"}}}"#, "hex of 32, 48 or 64 bytes"),
        (#"{"attestation": {"pcrs": {"PCR0": 5}}}"#, "hex of 32, 48 or 64 bytes"),
        (#"{"attestation": {"pcrs": {}, "allowDebug": "yes"}}"#, "true or false"),
        (#"{"attestation": {"pcrs": {}, "maxAgeSeconds": 0}}"#, "whole number"),
        (#"{"attestation": {"pcrs": {}, "maxAgeSeconds": 1.5}}"#, "whole number"),
        (#"{"attestation": {"pcrs": {}}}"#, "pins no PCR"),
        (#"{"attestation": {"pcrs": {}, "allowDebug": true, "maxAgeSeconds": 60}}"#, "pins no PCR"),
        (#"{"Measurements": {"HashAlgorithm": "Sha256 { }", "PCR0": "00"}}"#, "SHA-384"),
        (#"{"Measurements": {"HashAlgorithm": "Sha384 { }"}}"#, "no PCR"),
        (#"{"Measurements": {"PCR0": "zz"}}"#, "hex"),
    ]

    @Test(arguments: refused)
    func refusesBadManifestsWithAReason(json: String, reason: String) {
        do {
            _ = try parse(json)
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }
}

@Suite struct DocumentEncodingTests {
    @Test func recognisesEveryEncoding() throws {
        guard let doc = Samples.any else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        #expect(try DocumentEncoding.decode(doc) == (doc, .cbor))
        let hex = Array(Hex.encode(doc).uppercased().utf8)
        #expect(try DocumentEncoding.decode(hex + [0x0A]).bytes == doc)
        let b64 = Array(Base64.encode(doc).utf8)
        var wrapped: [UInt8] = []
        for (i, c) in b64.enumerated() {
            wrapped.append(c)
            if i % 76 == 75 { wrapped.append(0x0A) }
        }
        #expect(try DocumentEncoding.decode(wrapped) == (doc, .base64))
        let urlSafe = b64.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: "-") : $0 == UInt8(ascii: "/") ? UInt8(ascii: "_") : $0 }
            .filter { $0 != UInt8(ascii: "=") }
        #expect(try DocumentEncoding.decode(urlSafe).bytes == doc)
    }

    @Test(arguments: ["", "   ", "not base64!", "abcde", "A===", "@@@@"])
    func refusesGarbage(text: String) {
        #expect(throws: AttestationError(.unreadableInput, "")) { try DocumentEncoding.decode(Array(text.utf8)) }
    }

    @Test func refusesOversizedFiles() {
        let huge = [UInt8](repeating: 0x41, count: DocumentEncoding.maxFileSize + 1)
        #expect(throws: AttestationError(.unreadableInput, "")) { try DocumentEncoding.decode(huge) }
    }
}
