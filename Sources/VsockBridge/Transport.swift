#if canImport(Glibc)
import Glibc
#endif

/// How the host and the enclave reach each other: AF_VSOCK on Nitro, TCP loopback in emulation. `auto` takes
/// vsock where the Nitro device of that side exists (`/dev/nsm` inside an enclave, `/dev/nitro_enclaves` on a
/// parent instance), and TCP elsewhere.
public enum Transport: String, Sendable, CaseIterable {
    case auto, vsock, tcp

    /// The transport this selection means on this machine, given the device that marks Nitro for this side.
    public func resolved(nitroDevice: String) -> Transport {
        guard self == .auto else { return self }
        var status = stat()
        return lstat(nitroDevice, &status) == 0 ? .vsock : .tcp
    }

    /// The enclave's side marker.
    public static let enclaveDevice = "/dev/nsm"
    /// The parent instance's side marker.
    public static let hostDevice = "/dev/nitro_enclaves"

    /// Where the enclave dials the host's bridge.
    public func bridgeAddressForEnclave(port: UInt32) -> BridgeAddress {
        self == .vsock
            ? .vsock(cid: BridgeConstants.parentCID, port: port)
            : .tcp(host: BridgeConstants.emulatedBridgeHost, port: Int(port))
    }

    /// Where the host's bridge listens.
    public func bridgeAddressForHost(port: UInt32) -> BridgeAddress {
        self == .vsock ? .vsock(cid: UInt32.max, port: port) : .tcp(host: BridgeConstants.emulatedBridgeHost, port: Int(port))
    }
}
