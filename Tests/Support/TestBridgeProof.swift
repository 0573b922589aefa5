import EnclaveRuntime
import EnclaveWire
import Foundation
import NIOCore
import NitroAttestation
import SecureModule

/// Bridge credentials for tests that play an enclave against a real bridge: one made under a root the host trusts
/// (`credential(emulatorDirectory:)`), and provers that must fail (a stranger's root, a key the document does not
/// bind).
public enum TestBridgeProof {
    /// A credential from a software module under the emulated root in `directory` (created if missing), for a build
    /// of its own ("test build": a neighbour's, to a host that pins its builds).
    public static func credential(emulatorDirectory directory: String, image: String = "test build") async throws -> BridgeCredential {
        try await credential(emulatorDirectory: directory, executable: Array(image.utf8), manifest: [])
    }

    /// A credential for the build of `executable` with `manifest`, as the software module measures it (the build a
    /// test host launches, when given its enclave binary and manifest).
    public static func credential(emulatorDirectory directory: String, executable: [UInt8], manifest: [UInt8]) async throws -> BridgeCredential {
        let root = try EmulatedRoot.loadOrCreate(directory: directory).root
        let module = NSMClient(transport: try SoftwareNSM(root: root, image: EnclaveImage(executable: executable, manifest: manifest)))
        return try await BridgeCredential.create(module: module, manifestBytes: manifest)
    }

    /// The PCRs a credential made with `image` carries (PCR0 to PCR2).
    public static func measurements(image: String = "test build") -> [Int: [UInt8]] {
        let m = EnclaveImage(executable: Array(image.utf8), manifest: []).measurements
        return [0: m[0]!, 1: m[1]!, 2: m[2]!]
    }

    /// A fresh emulated root in a temporary directory, and its trusted-roots set.
    public static func temporaryRoot() throws -> (directory: String, roots: TrustedRoots) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-bridge-root-\(UUID().uuidString)").path
        let root = try EmulatedRoot.loadOrCreate(directory: directory).root
        return (directory, TrustedRoots(certificates: [root.certificate]))
    }

    /// A prover that signs with a key of its own but presents `document` (someone else's, e.g. a boot document a
    /// client was served): the signature cannot match the document's key.
    public static func replaying(_ document: [UInt8]) throws -> ChannelProver {
        let key = try P384Key.generate()
        return ChannelProver(sign: { kind, challenge, _ in
            .signature(document: document, signature: try key.signES384(ChannelProof.signedBytes(channel: kind, challenge: challenge)), macKey: nil)
        })
    }

    /// A prover whose proofs no host checks (for tests of the dialers' side against a scripted host).
    public static let unchecked = ChannelProver(sign: { _, _, _ in
        .signature(document: [0xA0], signature: [UInt8](repeating: 0, count: ChannelProof.signatureSize), macKey: nil)
    })
}

extension BridgeCredential {
    /// The key (DER SubjectPublicKeyInfo) its document binds.
    public var currentDocumentKey: [UInt8]? { (try? AttestationVerifier.parse(currentDocument))?.1.publicKey }
}

/// Bridge frames for tests that speak the protocol by hand.
public enum TestFrames {
    /// One message as a frame.
    public static func frame(_ m: WireMessage) -> [UInt8] {
        var b = ByteBuffer()
        WireFrame.write(m, to: &b)
        return Array(b.readableBytesView)
    }

    /// The whole frames among `bytes`, in order.
    public static func frames(_ bytes: [UInt8]) -> [WireMessage] {
        var b = ByteBuffer(bytes: bytes)
        var out: [WireMessage] = []
        while let m = try? WireFrame.next(from: &b, maxFrameSize: 1 << 20) { out.append(m) }
        return out
    }
}
