import NitroAttestation

#if canImport(Glibc)
import Glibc
#endif

/// Which secure module to use: `auto` takes the device when `/dev/nsm` exists (inside a Nitro Enclave) and the
/// software module only when it does not; or one of them by force. A device that exists but cannot be opened is
/// an error, never a reason to fall back to emulation.
public enum SecureModuleSelection: String, Sendable, CaseIterable {
    case auto, device, software

    /// An opened module and a plain sentence saying which it is, to be logged once.
    public struct Opened: Sendable {
        public let module: any SecureModule
        public let description: String
        public let isEmulated: Bool
    }

    /// Opens the module this selection names. The software module measures `image()` and chains to the root
    /// from `root()`; neither is called when the device is used.
    public func open(
        devicePath: String = NSMDevice.path, image: () throws(NSMError) -> EnclaveImage, root: () throws(NSMError) -> EmulatedRoot
    ) throws(NSMError) -> Opened {
        if self == .device || (self == .auto && Self.exists(devicePath)) {
            let device = try NSMDevice(path: devicePath)
            return Opened(module: NSMClient(transport: device), description: "secure module: Nitro device \(devicePath)", isEmulated: false)
        }
        let root = try root()
        let nsm = try SoftwareNSM(root: root, image: try image())
        let fingerprint = Hex.encode(root.certificate.sha256).uppercased()
        return Opened(
            module: nsm.client,
            description: "secure module: SOFTWARE EMULATION (no \(devicePath)); module \(nsm.moduleID), emulated root SHA-256 \(fingerprint)",
            isEmulated: true)
    }

    /// Whether anything is at `path` (a broken or unreadable device still counts: it must not be emulated away).
    static func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }
}
