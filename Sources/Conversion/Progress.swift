import Foundation

/// Progress of a long job on stderr: a redrawn bar with bytes, throughput and ETA on a terminal,
/// one plain line every few seconds otherwise (logs, CI), nothing when quiet.
package final class ProgressReporter: @unchecked Sendable {
    package enum Style: Sendable { case automatic, bar, lines, quiet }

    private let label: String
    private let total: Int
    private let style: Style
    private let start = Date()
    private let lock = NSLock()
    private var done = 0
    private var lastPrint = Date.distantPast
    private var finished = false
    /// Whether a bar has been drawn without its final newline (shared by all reporters: there is
    /// one terminal line).
    nonisolated(unsafe) private static var openBar = false
    private static let openBarLock = NSLock()
    /// Counts shown as plain numbers of these (e.g. "layers") instead of bytes.
    private let unit: String?

    package init(label: String, totalBytes: Int, style: Style = .automatic, unit: String? = nil) {
        self.label = label
        self.unit = unit
        total = max(totalBytes, 1)
        if style == .automatic {
            self.style = isatty(STDERR_FILENO) != 0 ? .bar : .lines
        } else {
            self.style = style
        }
    }

    package func advance(by bytes: Int, note: String = "") {
        lock.lock()
        defer { lock.unlock() }
        done += bytes
        let now = Date()
        let interval: TimeInterval = style == .bar ? 0.2 : 5
        if now.timeIntervalSince(lastPrint) >= interval {
            lastPrint = now
            draw(now: now, note: note)
        }
    }

    package func finish(note: String = "") {
        lock.lock()
        defer { lock.unlock() }
        guard !finished else { return }
        finished = true
        draw(now: Date(), note: note)
        if style == .bar {
            FileHandle.standardError.write(Data("\n".utf8))
            Self.openBarLock.withLock { Self.openBar = false }
        }
    }

    /// Erases a progress bar left on the terminal line (a job that failed mid-way), so that the
    /// error that follows starts its own line instead of being appended to the bar.
    package static func eraseOpenBar() {
        openBarLock.withLock {
            if openBar { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
            openBar = false
        }
    }

    private func draw(now: Date, note: String) {
        guard style != .quiet else { return }
        let elapsed = max(now.timeIntervalSince(start), 1e-6)
        let rate = Double(done) / elapsed
        let fraction = min(1, Double(done) / Double(total))
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        let figures =
            if let unit {
                "\(done)/\(total) \(unit) ETA \(formatDuration(remaining))"
            } else {
                "\(formatBytes(done))/\(formatBytes(total)) \(formatBytes(Int(rate)))/s ETA \(formatDuration(remaining))"
            }
        let text: String
        switch style {
        case .bar:
            let width = 28
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            text = "\r\u{1B}[2K\(label) \(bar) \(String(format: "%5.1f%%", fraction * 100)) \(figures) \(note)"
        default:
            text = "\(label): \(String(format: "%5.1f%%", fraction * 100)) \(figures) \(note)\n"
        }
        FileHandle.standardError.write(Data(text.utf8))
        if style == .bar { Self.openBarLock.withLock { Self.openBar = true } }
    }
}

package func formatBytes(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}

package func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "--" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" : "\(s / 60)m\(String(format: "%02d", s % 60))s"
}
