import CNSM
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// The Nitro Secure Module device, `/dev/nsm`, inside an enclave.
///
/// The driver serialises requests; so does this type: every call runs on one serial queue, never on the
/// caller's thread (an event loop must not block in an ioctl).
public final class NSMDevice: NSMTransport, @unchecked Sendable {
    // The descriptor is only used on `queue`, and closed once in deinit.
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let queue = DispatchQueue(label: "cloister.nsm-device")

    /// The device path inside a Nitro Enclave.
    public static let path = "/dev/nsm"

    /// Opens the device. Fails with `internalError` where there is none (every machine but an enclave).
    public convenience init(path: String = NSMDevice.path) throws(NSMError) {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw NSMError(.internalError, "cannot open \(path): \(String(cString: strerror(errno)))") }
        self.init(fileDescriptor: fd, owned: true)
    }

    /// Uses an already open descriptor (tests give it one that is not the device).
    public init(fileDescriptor: Int32, owned: Bool) {
        self.descriptor = fileDescriptor
        self.ownsDescriptor = owned
    }

    deinit { if ownsDescriptor { close(descriptor) } }

    /// The request number the driver expects.
    public static var ioctlNumber: UInt { UInt(cloister_nsm_ioctl_number()) }

    public func exchange(_ request: [UInt8]) async throws(NSMError) -> [UInt8] {
        guard request.count <= NSMRequest.maxEncodedSize else {
            throw NSMError(.inputTooLarge, "request of \(request.count) bytes exceeds \(NSMRequest.maxEncodedSize)")
        }
        let fd = descriptor
        let result: Result<[UInt8], NSMError> = await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: Self.perform(fd, request)) }
        }
        return try result.get()
    }

    static func perform(_ fd: Int32, _ request: [UInt8]) -> Result<[UInt8], NSMError> {
        var response = [UInt8](repeating: 0, count: NSMResponse.maxEncodedSize)
        var request = request
        let status: Int32
        let written: Int
        (status, written) = request.withUnsafeMutableBytes { req in
            response.withUnsafeMutableBytes { res in
                var raw = cloister_nsm_raw(
                    request: cloister_nsm_iovec(addr: UInt64(UInt(bitPattern: req.baseAddress)), len: UInt64(req.count)),
                    response: cloister_nsm_iovec(addr: UInt64(UInt(bitPattern: res.baseAddress)), len: UInt64(res.count)))
                let s = cloister_nsm_ioctl(fd, &raw)
                return (s, Int(raw.response.len))
            }
        }
        guard status == 0 else {
            let code = errno
            let reason = String(cString: strerror(code))
            // The driver refuses oversized requests with EMSGSIZE; any other failure is the module's or the kernel's.
            return .failure(NSMError(code == EMSGSIZE ? .inputTooLarge : .internalError, "ioctl on the NSM failed: \(reason)"))
        }
        guard written >= 0, written <= response.count else {
            return .failure(NSMError(.invalidResponse, "the driver reported \(written) response bytes"))
        }
        return .success(Array(response.prefix(written)))
    }
}
