#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Reads a pipe to its end. Foundation's `readDataToEndOfFile` stops the process when a read is interrupted by a
/// signal (EINTR, e.g. SIGCHLD from another child exiting); this retries instead.
public enum PipeReader {
    /// Everything the other end writes until it closes (or until an error other than EINTR).
    public static func readAll(_ handle: FileHandle) -> Data {
        var out = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let fd = handle.fileDescriptor
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                out.append(contentsOf: buffer[0..<n])
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return out
            }
        }
    }
}
