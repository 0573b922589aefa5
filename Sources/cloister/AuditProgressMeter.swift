import CloisterClient
import Foundation

/// A one-line progress display on standard error for a long audit: receipts done, rate, and time left when the
/// total is known (from the file's header, else estimated from its size). Redrawn at most four times a second.
final class AuditProgressMeter {
    private let total: UInt64?
    private let fileSize: Int?
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private var last: ContinuousClock.Instant
    private var shown = false
    static let interval = Duration.milliseconds(250)

    init(total: UInt64?, fileSize: Int?) {
        self.total = total
        self.fileSize = fileSize
        start = clock.now
        last = start - Self.interval
    }

    func update(_ p: AuditVerifier.Progress) {
        let now = clock.now
        guard now - last >= Self.interval else { return }
        last = now
        let elapsed = Self.seconds(now - start)
        let rate = elapsed > 0 ? Double(p.receipts) / elapsed : 0
        var line = "verifying: \(Self.grouped(p.receipts))"
        if let total { line += " of \(Self.grouped(total))" }
        line += " receipts, \(Self.grouped(UInt64(rate)))/s"
        var fraction: Double?
        if let total, total > 0 { fraction = Double(p.receipts) / Double(total) } else if let fileSize, fileSize > 0 { fraction = Double(p.bytes) / Double(fileSize) }
        if let fraction, fraction > 0, fraction <= 1 {
            line += ", \(Self.clockText(elapsed * (1 - fraction) / fraction)) left"
        }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        shown = true
    }

    /// Clears the line.
    func finish() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    static func grouped(_ n: UInt64) -> String {
        let digits = Array(String(n))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return out
    }

    static func clockText(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
