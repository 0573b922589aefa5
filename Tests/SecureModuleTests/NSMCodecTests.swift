import CBOR
import Foundation
import NitroAttestation
import Testing

@testable import SecureModule

func hex(_ s: String) -> [UInt8] { Hex.decode(s.filter { !$0.isWhitespace })! }

/// Vectors derived from nsm-api's definitions (serde_cbor: externally tagged enums, fields in declaration order,
/// byte fields as byte strings, shortest integers, null for None).
@Suite struct NSMCodecTests {
    static let requests: [(NSMRequest, String)] = [
        (.describeNSM, "6B 44657363726962654E534D"),
        (.getRandom, "69 47657452616E646F6D"),
        (.describePCR(index: 16), "A1 6B 4465736372696265504352 A1 65 696E646578 10"),
        (.describePCR(index: 300), "A1 6B 4465736372696265504352 A1 65 696E646578 19 012C"),
        (.extendPCR(index: 16, data: [1, 2, 3]), "A1 69 457874656E64504352 A2 65 696E646578 10 64 64617461 43 010203"),
        (.lockPCR(index: 16), "A1 67 4C6F636B504352 A1 65 696E646578 10"),
        (.lockPCRs(range: 32), "A1 68 4C6F636B50435273 A1 65 72616E6765 18 20"),
        (.attestation(userData: nil, nonce: [1], publicKey: nil),
         "A1 6B 4174746573746174696F6E A3 69 757365725F64617461 F6 65 6E6F6E6365 41 01 6A 7075626C69635F6B6579 F6"),
        (.attestation(userData: nil, nonce: nil, publicKey: nil),
         "A1 6B 4174746573746174696F6E A3 69 757365725F64617461 F6 65 6E6F6E6365 F6 6A 7075626C69635F6B6579 F6"),
    ]

    @Test(arguments: requests)
    func requestsEncodeExactlyAndRoundTrip(request: NSMRequest, expected: String) throws {
        #expect(request.encoded == hex(expected))
        #expect(try NSMRequest(hex(expected)) == request)
    }

    static let responses: [(NSMResponse, String)] = [
        (.error(.invalidIndex), "A1 65 4572726F72 6C 496E76616C6964496E646578"),
        (.lockPCR, "67 4C6F636B504352"),
        (.lockPCRs, "68 4C6F636B50435273"),
        (.getRandom(random: [0xDE, 0xAD, 0xBE, 0xEF]), "A1 69 47657452616E646F6D A1 66 72616E646F6D 44 DEADBEEF"),
        (.describePCR(locked: true, data: [UInt8](repeating: 0, count: 48)),
         "A1 6B 4465736372696265504352 A2 64 6C6F636B F5 64 64617461 58 30" + String(repeating: "00", count: 48)),
        (.extendPCR(data: [UInt8](repeating: 0, count: 48)), "A1 69 457874656E64504352 A1 64 64617461 58 30" + String(repeating: "00", count: 48)),
        (.attestation(document: [0x84]), "A1 6B 4174746573746174696F6E A1 68 646F63756D656E74 41 84"),
        (.describeNSM(NSMDescription(
            versionMajor: 1, versionMinor: 0, versionPatch: 0, moduleID: "i-0123456789abcdef0-enc0123456789abcdef",
            maxPCRs: 32, lockedPCRs: Array(0..<16), digest: .sha384)),
         "A1 6B 44657363726962654E534D A7 6D 76657273696F6E5F6D616A6F72 01 6D 76657273696F6E5F6D696E6F72 00"
            + "6D 76657273696F6E5F7061746368 00 69 6D6F64756C655F6964 78 27"
            + Hex.encode(Array("i-0123456789abcdef0-enc0123456789abcdef".utf8))
            + "68 6D61785F70637273 18 20 6B 6C6F636B65645F70637273 90 000102030405060708090A0B0C0D0E0F 66 646967657374 66 534841333834"),
    ]

    @Test(arguments: responses)
    func responsesEncodeExactlyAndRoundTrip(response: NSMResponse, expected: String) throws {
        #expect(response.encoded == hex(expected))
        #expect(try NSMResponse(hex(expected)) == response)
    }

    @Test func everyErrorCodeRoundTrips() throws {
        for code in NSMError.Code.allCases {
            #expect(try NSMResponse(NSMResponse.error(code).encoded) == .error(code))
        }
    }

    static let badResponses: [String] = [
        "", "FF", "A0", "A2 6161 01 6162 02", "6B 4E6F7453756368546869 6E67", "A1 65 4572726F72 63 466F6F",
        "A1 69 457874656E64504352 A1 64 64617461 01", "A1 6B 4465736372696265504352 A1 64 64617461 40",
        "A1 6B 44657363726962654E534D A0", "67 4C6F636B504352 00",
    ]

    @Test(arguments: badResponses)
    func malformedResponsesAreInvalidResponse(bytes: String) {
        #expect(throws: NSMError(.invalidResponse)) { try NSMResponse(hex(bytes)) }
    }

    @Test func oversizedMessagesAreRefused() {
        #expect(throws: NSMError(.inputTooLarge)) { try NSMRequest([UInt8](repeating: 0x60, count: 4097)) }
        #expect(throws: NSMError(.invalidResponse)) { try NSMResponse([UInt8](repeating: 0x60, count: 0x3001)) }
    }

    @Test func unknownRequestsAreInvalidOperation() {
        #expect(throws: NSMError(.invalidOperation)) { try NSMRequest(CBOREncoder.encode("Reboot")) }
        #expect(throws: NSMError(.invalidArgument)) { try NSMRequest(hex("A1 67 4C6F636B504352 A1 65 696E646578 1A 00010000")) }
    }
}

@Suite struct NSMDeviceTests {
    @Test func ioctlNumberIsTheDriversOnLP64() {
        #expect(NSMDevice.ioctlNumber == 0xC020_0A00)
    }

    /// The ioctl layer against a descriptor that is not the device: the kernel refuses the ioctl, and the error
    /// comes back typed, never as a crash or a hang.
    @Test func ioctlOnANonDeviceIsAnInternalError() async throws {
        let device = try NSMDevice(path: "/dev/null")
        await #expect(throws: NSMError(.internalError)) { try await device.exchange(NSMRequest.describeNSM.encoded) }
        await #expect(throws: NSMError(.inputTooLarge)) { try await device.exchange([UInt8](repeating: 0, count: 4097)) }
        await #expect(throws: NSMError(.internalError)) { try await NSMClient(transport: device).describe() }
    }

    @Test func missingDeviceIsAnInternalError() {
        #expect(throws: NSMError(.internalError)) { try NSMDevice(path: "/nonexistent/nsm") }
    }

    /// `auto` emulates only where there is no device; a device that will not open is an error.
    @Test func autoSelectionFallsBackOnlyWhenTheDeviceIsAbsent() throws {
        let image = { () throws(NSMError) -> EnclaveImage in TestRoot.image }
        let root = { () throws(NSMError) -> EmulatedRoot in TestRoot.root }
        let absent = try SecureModuleSelection.auto.open(devicePath: "/nonexistent/nsm", image: image, root: root)
        #expect(absent.isEmulated)
        #expect(absent.description.contains("SOFTWARE EMULATION"))
        // Present but unopenable (a directory): refused, not emulated.
        #expect(throws: NSMError(.internalError)) {
            try SecureModuleSelection.auto.open(devicePath: FileManager.default.temporaryDirectory.path, image: image, root: root)
        }
        #expect(throws: NSMError(.internalError)) {
            try SecureModuleSelection.device.open(devicePath: "/nonexistent/nsm", image: image, root: root)
        }
        #expect(try SecureModuleSelection.software.open(devicePath: "/dev/null", image: image, root: root).isEmulated)
    }

    @Test func realDeviceDescribesItself() async throws {
        guard let device = try? NSMDevice() else {
            print("SKIP: /dev/nsm is absent (not inside a Nitro Enclave); the real-device test did not run")
            return
        }
        let description = try await NSMClient(transport: device).describe()
        #expect(description.maxPCRs == 32)
        #expect(description.digest == .sha384)
    }
}
