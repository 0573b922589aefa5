import NitroAttestation

/// Which secure module to use: the device when `/dev/nsm` opens (inside a Nitro Enclave), else the software
/// module; or one of them by force.
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
        if self != .software {
            do {
                let device = try NSMDevice(path: devicePath)
                return Opened(module: NSMClient(transport: device), description: "secure module: Nitro device \(devicePath)", isEmulated: false)
            } catch {
                if self == .device { throw error }
            }
        }
        let root = try root()
        let nsm = try SoftwareNSM(root: root, image: try image())
        let fingerprint = Hex.encode(root.certificate.sha256).uppercased()
        return Opened(
            module: nsm.client,
            description: "secure module: SOFTWARE EMULATION (no \(devicePath)); module \(nsm.moduleID), emulated root SHA-256 \(fingerprint)",
            isEmulated: true)
    }
}
