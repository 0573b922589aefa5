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

    @Test func readsBuildsAndTheDeploymentInBothFormats() throws {
        let deployment = String(repeating: "5a", count: 32)
        let m = try parse("""
            {"attestation": {"pcrs": {"PCR0": "\(Self.pcr0)"}, "deployment": "\(deployment.uppercased())"},
             "builds": [{"PCR0": "\(Self.pcr1)", "PCR1": "\(Self.pcr1)", "PCR2": "\(Self.pcr0)"}, {"PCR8": "\(Self.pcr0)"}]}
            """)
        #expect(m.builds == [[0: Hex.decode(Self.pcr1)!, 1: Hex.decode(Self.pcr1)!, 2: Hex.decode(Self.pcr0)!], [8: Hex.decode(Self.pcr0)!]])
        #expect(m.deployment == Hex.decode(deployment))
        #expect(m.policy().otherBuilds == m.builds)
        // Beside nitro-cli's measurements.
        let cli = try parse("""
            {"Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": "\(Self.pcr0)"}, "builds": [{"PCR8": "\(Self.pcr1)"}]}
            """)
        #expect(cli.builds == [[8: Hex.decode(Self.pcr1)!]])
        #expect(cli.format == "nitro-cli")
        // Builds alone pin enough: the primary pins may be empty then.
        let only = try parse(#"{"attestation": {"pcrs": {}}, "builds": [{"PCR8": "\#(Self.pcr0)"}]}"#)
        #expect(only.pcrs.isEmpty && only.builds.count == 1)
        // Without either key, nothing changes.
        let plain = try parse(#"{"attestation": {"pcrs": {"PCR0": "\#(Self.pcr0)"}}}"#)
        #expect(plain.builds.isEmpty && plain.deployment == nil)
    }

    @Test func buildsAreBounded() throws {
        let build = { (i: Int) in "{\"PCR0\": \"\(String(format: "%096x", i))\"}" }
        let full = "[" + (0..<TrustManifest.maxBuilds).map(build).joined(separator: ",") + "]"
        #expect(try TrustManifest.parseBuilds(try JSONValue.parse(Array(full.utf8))).count == 64)
        let over = "[" + (0...TrustManifest.maxBuilds).map(build).joined(separator: ",") + "]"
        #expect(throws: TrustManifest.Error("\"builds\" lists 65 builds, at most 64 allowed")) {
            try TrustManifest.parseBuilds(try JSONValue.parse(Array(over.utf8)))
        }
        #expect(try TrustManifest.parseBuilds(.array([])).isEmpty)
    }

    static let refusedBuilds: [(String, String)] = [
        (#"{"builds": {}}"#, "must be an array"),
        (#"{"builds": "PCR0"}"#, "must be an array"),
        (#"{"builds": [[]]}"#, "builds[0] must be an object"),
        (#"{"builds": [{}]}"#, "builds[0] pins no PCR"),
        (#"{"builds": [{"PCR0": "\#(pcr0)"}, {"PCR0": "\#(pcr0)"}]}"#, "builds[1] repeats builds[0]"),
        (#"{"builds": [{"PCR0": "\#(pcr0)", "PCR1": "\#(pcr1)"}, {"PCR1": "\#(pcr1)", "PCR0": "\#(pcr0)"}]}"#, "builds[1] repeats builds[0]"),
        (#"{"builds": [{"PCR0": "\#(pcr0)"}, {"name": "next"}]}"#, "builds[1]: \"name\" is not a PCR name"),
        (#"{"builds": [{"PCR32": "\#(pcr0)"}]}"#, "builds[0]: \"PCR32\" is not a PCR name"),
        (#"{"builds": [{"PCR0": "zz"}]}"#, "builds[0].PCR0 must be hex of 32, 48 or 64 bytes"),
        (#"{"builds": [{"PCR0": "0011"}]}"#, "builds[0].PCR0 must be hex of 32, 48 or 64 bytes"),
        (#"{"builds": [{"PCR8": 1}]}"#, "builds[0].PCR8 must be hex"),
        (#"{"attestation": {"pcrs": {"PCR0": "\#(pcr0)"}, "deployment": "00"}}"#, "\"attestation.deployment\" must be hex of 32 bytes"),
        (#"{"attestation": {"pcrs": {"PCR0": "\#(pcr0)"}, "deployment": "\#(pcr0)"}}"#, "\"attestation.deployment\" must be hex of 32 bytes"),
        (#"{"attestation": {"pcrs": {"PCR0": "\#(pcr0)"}, "deployment": "xy"}}"#, "\"attestation.deployment\" must be hex of 32 bytes"),
        (#"{"attestation": {"pcrs": {"PCR0": "\#(pcr0)"}, "deployment": 7}}"#, "\"attestation.deployment\" must be hex of 32 bytes"),
        (#"{"attestation": {"pcrs": {}}, "builds": []}"#, "pins no PCR"),
        (#"{"Measurements": {"PCR0": "\#(pcr0)"}, "builds": [{"PCR0": "ab"}]}"#, "builds[0].PCR0 must be hex"),
        (#"{"Measurements": {"PCR0": "\#(pcr0)"}, "builds": [{}]}"#, "builds[0] pins no PCR"),
    ]

    @Test(arguments: refusedBuilds)
    func refusesBadBuildsAndDeployments(json: String, reason: String) {
        let full = json.hasPrefix(#"{"builds""#) ? #"{"attestation": {"pcrs": {"PCR0": "\#(Self.pcr0)"}}, "# + json.dropFirst() : json
        do {
            _ = try parse(full)
            Issue.record("accepted \(full)")
        } catch {
            #expect(error.message.contains(reason), "\(error.message)")
        }
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
