import Foundation
import NitroAttestation
import SecureModule
import Testing

@testable import TransparencyLog

@Suite struct CosignatureTests {
    /// The signed message is `cosignature/v1`, the time line and the checkpoint text; the line carries the key ID
    /// over type 0x04, the big-endian time and the Ed25519 signature.
    @Test func cosignatureLayout() throws {
        let key = TestKeys.key()
        let signer = try NoteSigner(name: "w.example", type: .cosignatureV1, key: key)
        let text = TestKeys.checkpoint.text
        let line = try signer.sign(text: text, timestamp: 1_679_315_147)
        #expect(line.keyID == NoteVerifierKey.keyID(name: "w.example", type: .cosignatureV1, publicKey: key.publicKey))
        #expect(Array(line.signature.prefix(8)) == [0, 0, 0, 0, 0x64, 0x18, 0x50, 0xCB])
        let message = Array("cosignature/v1\ntime 1679315147\n".utf8) + text
        #expect(Ed25519Key.verify(Array(line.signature.dropFirst(8)), of: message, publicKey: key.publicKey))
        // The same key as a plain note key has another key ID: a cosignature is not a note signature.
        #expect(line.keyID != NoteVerifierKey.keyID(name: "w.example", type: .ed25519, publicKey: key.publicKey))
    }

    @Test func timeOutsideTheSpecIsRefused() throws {
        #expect(throws: TransparencyLogError(.invalidTimestamp, "")) {
            try TestKeys.witnessA.sign(text: TestKeys.checkpoint.text, timestamp: UInt64(Int64.max) + 1)
        }
        // A line claiming a time above 2^63 - 1 from a known witness.
        let good = try TestKeys.witnessA.sign(text: TestKeys.checkpoint.text, timestamp: 1)
        let bad = try NoteSignature(name: good.name, keyID: good.keyID, signature: [0x80] + good.signature.dropFirst())
        let note = try SignedNote(text: TestKeys.checkpoint.text, signatures: [bad])
        #expect(throws: TransparencyLogError(.invalidTimestamp, "")) {
            try NoteVerifier(keys: [TestKeys.witnessA.verifierKey]).verify(note)
        }
    }

    @Test func changedTimeOrTruncatedCosignatureIsRefused() throws {
        let verifier = try NoteVerifier(keys: [TestKeys.witnessA.verifierKey])
        let good = try TestKeys.witnessA.sign(text: TestKeys.checkpoint.text, timestamp: 1000)
        var later = good.signature
        later[7] ^= 1
        for signature in [later, Array(good.signature.dropLast())] {
            let line = try NoteSignature(name: good.name, keyID: good.keyID, signature: signature)
            #expect(throws: TransparencyLogError(.invalidSignature, "")) {
                try verifier.verify(try SignedNote(text: TestKeys.checkpoint.text, signatures: [line]))
            }
        }
    }

    // MARK: Python `cryptography` (pyca, OpenSSL's Ed25519 behind another implementation of the formats)

    static let python = """
        import base64, hashlib, struct, sys
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
        mode = sys.argv[1]
        if mode == "verify":
            pub, name, note = bytes.fromhex(sys.argv[2]), sys.argv[3], sys.stdin.buffer.read()
            text, sigs = note.rsplit(b"\\n\\n", 1)
            text += b"\\n"
            for line in sigs.decode().splitlines():
                n, b64 = line[2:].split(" ")
                raw = base64.b64decode(b64, validate=True)
                for kind, msg_of in ((1, lambda r: text), (4, lambda r: b"cosignature/v1\\ntime %d\\n" % struct.unpack(">Q", r[4:12])[0] + text)):
                    kid = hashlib.sha256(n.encode() + b"\\n" + bytes([kind]) + pub).digest()[:4]
                    if n == name and raw[:4] == kid:
                        sig = raw[4:] if kind == 1 else raw[12:]
                        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg_of(raw))
                        print("ok", kind)
        else:
            seed, name, ts, text = bytes.fromhex(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.stdin.buffer.read()
            key = Ed25519PrivateKey.from_private_bytes(seed)
            pub = key.public_key().public_bytes_raw()
            kid = hashlib.sha256(name.encode() + b"\\n\\x04" + pub).digest()[:4]
            sig = key.sign(b"cosignature/v1\\ntime %d\\n" % ts + text)
            sys.stdout.write(text.decode() + "\\n\\u2014 " + name + " " + base64.b64encode(kid + struct.pack(">Q", ts) + sig).decode() + "\\n")
        """

    static let hasPythonCryptography: Bool = (try? run(["-c", "import cryptography"], input: [])) != nil

    static func run(_ arguments: [String], input: [UInt8]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        stdin.fileHandleForWriting.write(Data(input))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.executableLoad) }
        return String(decoding: output, as: UTF8.self)
    }

    /// Scripts/bootstrap installs python3's `cryptography`; without it this fails rather than skip.
    @Test func pythonVerifiesOurSignatureAndCosignature() throws {
        try #require(Self.hasPythonCryptography, "python3 with the cryptography package is not installed (run Scripts/bootstrap)")
        let seed = Random.bytes(32)
        let key = try Ed25519Key(seed: seed)
        let log = try NoteSigner(name: "log.example", key: key)
        let witness = try NoteSigner(name: "log.example", type: .cosignatureV1, key: key)
        let text = TestKeys.checkpoint.text
        let note = try SignedNote(
            text: text, signatures: [try log.sign(text: text), try witness.sign(text: text, timestamp: 1_727_964_367)])
        let out = try Self.run(["-c", Self.python, "verify", Hex.encode(key.publicKey), "log.example"], input: note.encoded)
        #expect(out == "ok 1\nok 4\n")
    }

    @Test func weVerifyPythonsCosignatureByteForByte() throws {
        try #require(Self.hasPythonCryptography, "python3 with the cryptography package is not installed (run Scripts/bootstrap)")
        let seed = Random.bytes(32)
        let key = try Ed25519Key(seed: seed)
        let text = TestKeys.checkpoint.text
        let out = try Self.run(["-c", Self.python, "sign", Hex.encode(seed), "w.example", "1727964367"], input: text)
        let signer = try NoteSigner(name: "w.example", type: .cosignatureV1, key: key)
        let ours = try NoteSigner.sign(text: text, by: [signer], timestamp: 1_727_964_367).encoded
        #expect(Array(out.utf8) == ours)
        let verified = try NoteVerifier(keys: [signer.verifierKey]).verify(Array(out.utf8)).verified
        #expect(verified.first?.timestamp == 1_727_964_367)
    }
}
