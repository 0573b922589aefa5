/// Every port and context id the bridge uses, in one place.
public enum BridgeConstants {
    /// The parent instance's vsock context id, as an enclave sees it.
    public static let parentCID: UInt32 = 3
    /// The port of the host's bridge listener, on vsock and (in emulation) on TCP loopback.
    public static let bridgePort: UInt32 = 7050
    /// Where the bridge listens in emulation.
    public static let emulatedBridgeHost = "127.0.0.1"
}
