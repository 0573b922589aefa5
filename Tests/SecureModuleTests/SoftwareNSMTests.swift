import CBOR
import Foundation
import NitroAttestation
import Synchronization
import Testing

@testable import SecureModule

/// A root in a fresh temporary state directory, shared by the tests of one process.
enum TestRoot {
    static let directory: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-emulator-\(UUID().uuidString)").path
        return dir
    }()
    static let root: EmulatedRoot = try! EmulatedRoot.loadOrCreate(directory: directory).root
    static let image = EnclaveImage(executable: Array("cloister-enclave test build".utf8), manifest: Array("{}".utf8), instanceID: "i-emulated")
}

@Suite struct PCRBankTests {
    @Test func extendChainsSHA384() throws {
        var bank = PCRBank(boot: [:])
        let first = try bank.extend(16, [1, 2, 3])
        #expect(first == SHA.sha384(PCRBank.zero + [1, 2, 3]))
        let second = try bank.extend(16, [4])
        #expect(second == SHA.sha384(first + [4]))
        #expect(try bank.describe(16) == (false, second))
    }

    @Test func bootRegistersAreLockedAndRefuseExtension() throws {
        var bank = PCRBank(boot: [0: [UInt8](repeating: 7, count: 48)])
        for i in UInt16(0)..<16 {
            #expect(try bank.describe(i).locked)
            #expect(throws: NSMError(.readOnlyIndex)) { try bank.extend(i, [1]) }
            #expect(throws: NSMError(.readOnlyIndex)) { try bank.lock(i) }
        }
        #expect(try bank.describe(0).value == [UInt8](repeating: 7, count: 48))
    }

    @Test func lockingStopsExtension() throws {
        var bank = PCRBank(boot: [:])
        _ = try bank.extend(20, [1])
        try bank.lock(20)
        #expect(throws: NSMError(.readOnlyIndex)) { try bank.extend(20, [1]) }
        try bank.lock(range: 24)
        #expect(throws: NSMError(.readOnlyIndex)) { try bank.extend(23, [1]) }
        #expect(try bank.extend(24, [1]).count == 48)
        try bank.lock(range: 32)
        #expect(bank.lockedIndexes == Array(0..<32))
    }

    @Test func outOfRangeAndOversizedInputsHaveTheirCodes() throws {
        var bank = PCRBank(boot: [:])
        #expect(throws: NSMError(.invalidIndex)) { try bank.describe(32) }
        #expect(throws: NSMError(.invalidIndex)) { try bank.extend(UInt16.max, [1]) }
        #expect(throws: NSMError(.invalidIndex)) { try bank.lock(32) }
        #expect(throws: NSMError(.invalidIndex)) { try bank.lock(range: 33) }
        #expect(throws: NSMError(.inputTooLarge)) { try bank.extend(16, [UInt8](repeating: 0, count: 1025)) }
        #expect(try bank.extend(16, [UInt8](repeating: 0, count: 1024)).count == 48)
    }

    @Test func documentsCarryBootRegistersAndTouchedOnes() throws {
        var bank = PCRBank(boot: [:])
        #expect(bank.attested.keys.sorted() == Array(0..<16))
        _ = try bank.extend(16, [1])
        try bank.lock(30)
        #expect(bank.attested.keys.sorted() == Array(0..<17) + [30])
    }
}

@Suite struct SoftwareNSMTests {
    func module(clock: @escaping @Sendable () -> Int64 = { Clock.milliseconds() }) throws -> SoftwareNSM {
        try SoftwareNSM(root: TestRoot.root, image: TestRoot.image, clock: clock)
    }

    func verifier() -> AttestationVerifier {
        AttestationVerifier(roots: TrustedRoots(certificates: [TestRoot.root.certificate]))
    }

    @Test func documentsVerifyAgainstTheEmulatedRootWithMeasuredPCRs() async throws {
        let nsm = try module()
        let nonce = Random.bytes(32)
        let key = Random.bytes(97)
        let doc = try await nsm.client.attestation(userData: [1, 2], nonce: nonce, publicKey: key)
        let verified = try verifier().verify(doc, at: .now)
        #expect(!verified.isAWSRoot)
        #expect(verified.document.moduleID.hasPrefix("i-emulated-"))
        #expect(verified.document.nonce == nonce)
        #expect(verified.document.publicKey == key)
        #expect(verified.document.userData == [1, 2])
        #expect(verified.document.cabundle.count == 4)
        let pins = TestRoot.image.measurements
        let policy = AttestationPolicy(pcrs: pins, nonce: nonce, maxAge: 60_000, allowDebug: false)
        #expect(policy.evaluate(verified).result == .meetsPolicy)
    }

    @Test func documentsFailAgainstTheAWSRoot() async throws {
        let doc = try await module().client.attestation(userData: nil, nonce: nil, publicKey: nil)
        #expect(throws: AttestationError(.untrustedRoot, "")) { try AttestationVerifier(roots: .aws).verify(doc, at: .now) }
    }

    @Test func documentsHaveTheLayoutOfRealOnes() async throws {
        let doc = try await module().client.attestation(userData: nil, nonce: nil, publicKey: nil)
        #expect(doc.first == 0x84, "untagged COSE_Sign1, as real modules write it")
        let parts = try #require(try CBORDecoder.decode(doc).array)
        #expect(parts[0] == .bytes([0xA1, 0x01, 0x38, 0x22]))
        #expect(parts[1] == .map(CBORMap()))
        #expect(parts[3].bytes?.count == 96)
        let payload = try #require(try CBORDecoder.decode(parts[2].bytes!).map)
        #expect(payload.entries.map { $0.key.text! } == AttestationDocument.fieldOrder)
        #expect(payload["public_key"] == .null && payload["user_data"] == .null && payload["nonce"] == .null)
        let chain = try AttestationVerifier(roots: TrustedRoots(certificates: [TestRoot.root.certificate])).verify(doc, at: .now).chain
        #expect(chain.leaf.notAfter - chain.leaf.notBefore == (3 * 3600 + 3) * 1000, "a 3-hour leaf, as on Nitro")
    }

    @Test func pcrExtensionsShowInLaterDocuments() async throws {
        let nsm = try module()
        let value = try await nsm.client.extendPCR(16, data: Array("workload".utf8))
        try await nsm.client.lockPCR(16)
        await #expect(throws: NSMError(.readOnlyIndex)) { try await nsm.client.extendPCR(16, data: [1]) }
        await #expect(throws: NSMError(.readOnlyIndex)) { try await nsm.client.extendPCR(3, data: [1]) }
        await #expect(throws: NSMError(.invalidIndex)) { try await nsm.client.describePCR(40) }
        let doc = try await nsm.client.attestation(userData: nil, nonce: nil, publicKey: nil)
        #expect(try verifier().verify(doc, at: .now).document.pcrs[16] == value)
        let description = try await nsm.client.describe()
        #expect(description.lockedPCRs == Array(0..<17))
        #expect(description.moduleID == nsm.moduleID)
    }

    @Test func oversizedAttestationInputsAreRefused() async throws {
        let nsm = try module()
        let max = [UInt8](repeating: 1, count: 1024)
        let doc = try await nsm.client.attestation(userData: max, nonce: max, publicKey: max)
        #expect(try verifier().verify(doc, at: .now).document.userData == max)
        await #expect(throws: NSMError(.inputTooLarge)) { try await nsm.client.attestation(userData: max + [1], nonce: nil, publicKey: nil) }
        #expect(nsm.respond(to: [0xFF]) == .error(.invalidArgument))
    }

    @Test func theLeafIsRenewedBeforeItExpires() async throws {
        let start = Clock.milliseconds()
        let offset = Mutex<Int64>(0)
        let nsm = try module(clock: { start + offset.withLock { $0 } })
        let first = try await nsm.client.attestation(userData: nil, nonce: nil, publicKey: nil)
        offset.withLock { $0 = 4 * 3600 * 1000 }
        let later = try await nsm.client.attestation(userData: nil, nonce: nil, publicKey: nil)
        let v1 = try verifier().verify(first, at: .documentTimestamp)
        let v2 = try verifier().verify(later, at: .documentTimestamp)
        #expect(v1.chain.leaf.sha256 != v2.chain.leaf.sha256)
        #expect(v1.chain.certificates[3].sha256 == v2.chain.certificates[3].sha256, "the instance CA lives a day")
        offset.withLock { $0 = 2 * 86400 * 1000 }
        let muchLater = try await nsm.client.attestation(userData: nil, nonce: nil, publicKey: nil)
        #expect(try verifier().verify(muchLater, at: .documentTimestamp).chain.certificates[3].sha256 != v1.chain.certificates[3].sha256)
    }

    @Test func randomIsRandom() async throws {
        let nsm = try module()
        let a = try await nsm.client.random()
        let b = try await nsm.client.random()
        #expect(a.count == 256 && a != b)
    }

    @Test func debugImagesReportZeroBootMeasurements() throws {
        var image = TestRoot.image
        image.debug = true
        let pcrs = image.measurements
        #expect(pcrs[0] == PCRBank.zero && pcrs[1] == PCRBank.zero && pcrs[2] == PCRBank.zero)
        #expect(TestRoot.image.measurements[0] != PCRBank.zero)
        #expect(TestRoot.image.measurements[4] == EnclaveImage.measure(Array("i-emulated".utf8)))
    }

    @Test func measurementsPrintAsNitroCLIDoes() throws {
        let manifest = try TrustManifest.parse(Array(TestRoot.image.nitroCLIJSON.utf8))
        #expect(manifest.format == "nitro-cli")
        #expect(manifest.pcrs == TestRoot.image.measurements.filter { $0.key <= 2 })
    }
}

@Suite struct EmulatedRootTests {
    @Test func rootIsCreatedOnceWithAPrivateKeyFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-root-\(UUID().uuidString)").path
        let (root, created) = try EmulatedRoot.loadOrCreate(directory: dir)
        #expect(created)
        let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/root-key.pem")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let (again, createdAgain) = try EmulatedRoot.loadOrCreate(directory: dir)
        #expect(!createdAgain)
        #expect(again.certificate.sha256 == root.certificate.sha256)
        #expect(root.certificate.isCA)
        #expect(!TrustedRoots.isAWS(root.certificate))
    }

    @Test func anExistingRootIsNeverOverwritten() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-root-\(UUID().uuidString)").path
        let first = try EmulatedRoot.create(directory: dir)
        #expect(throws: NSMError(.internalError)) { try EmulatedRoot.create(directory: dir) }
        #expect(try EmulatedRoot.load(directory: dir).certificate.sha256 == first.certificate.sha256)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(leftovers.filter { $0.contains(".tmp") }.isEmpty, "no temporary files stay behind: \(leftovers)")
    }

    /// A crash after the key was installed but before the certificate: refused by name, never silently replaced.
    @Test func aHalfCreatedRootIsRefusedByName() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-root-\(UUID().uuidString)").path
        _ = try EmulatedRoot.create(directory: dir)
        try FileManager.default.removeItem(atPath: dir + "/root.pem")
        do {
            _ = try EmulatedRoot.loadOrCreate(directory: dir)
            Issue.record("a half-created root was replaced")
        } catch {
            #expect(error.message.contains("root-key.pem"))
        }
    }

    @Test func concurrentInitsAgreeOnOneRoot() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-root-\(UUID().uuidString)").path
        let fingerprints = await withTaskGroup(of: [UInt8]?.self) { group in
            for _ in 0..<8 { group.addTask { try? EmulatedRoot.loadOrCreate(directory: dir).root.certificate.sha256 } }
            return await group.reduce(into: [[UInt8]?]()) { $0.append($1) }
        }
        #expect(fingerprints.allSatisfy { $0 != nil })
        #expect(Set(fingerprints.compactMap { $0 }).count == 1)
        #expect(try EmulatedRoot.load(directory: dir).certificate.sha256 == fingerprints.first!!)
    }

    @Test func aRootWithAForeignKeyIsRefused() throws {
        let a = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-root-\(UUID().uuidString)").path
        let b = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-root-\(UUID().uuidString)").path
        _ = try EmulatedRoot.create(directory: a)
        _ = try EmulatedRoot.create(directory: b)
        try FileManager.default.removeItem(atPath: a + "/root-key.pem")
        try FileManager.default.copyItem(atPath: b + "/root-key.pem", toPath: a + "/root-key.pem")
        #expect(throws: NSMError(.internalError)) { try EmulatedRoot.load(directory: a) }
        #expect(throws: NSMError(.internalError)) { try EmulatedRoot.load(directory: a + "/missing") }
    }
}
