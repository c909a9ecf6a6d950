import StrataData

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A one-line terminal progress bar on stderr (epoch, batches, images/s, loss, ETA), redrawn
/// in place at most ten times a second. Draws nothing unless stderr is a terminal.
///
/// ```
/// epoch 2/4 [##########··········]  94/188  5123 img/s  loss 0.4312  lr 0.0421  ETA 0:41
/// ```
public final class ProgressBar {
    public let enabled: Bool
    private var lastDraw = 0.0
    private var visible = false
    private let width: Int

    /// - Parameter enabled: defaults to whether stderr is a terminal.
    public init(enabled: Bool? = nil) {
        self.enabled = enabled ?? (isatty(STDERR_FILENO) != 0)
        var ws = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 {
            width = Int(ws.ws_col)
        } else {
            width = 100
        }
    }

    /// The bar's text for `info` (also used by tests).
    public static func line(_ info: StepInfo, width: Int = 100) -> String {
        let barWidth = 20
        let filled = Swift.min(barWidth, info.batch * barWidth / Swift.max(1, info.batches))
        let bar = String(repeating: "#", count: filled) + String(repeating: "·", count: barWidth - filled)
        let text =
            "epoch \(info.epoch)/\(info.epochs) [\(bar)] \(String(info.batch).leftPadded(toWidth: String(info.batches).count))/\(info.batches)"
            + "  \(Int(info.imagesPerSecond.rounded())) img/s  loss \(fixed(info.epochLoss, 4))  lr \(short(info.learningRate))"
            + "  ETA \(clockText(info.etaSeconds))"
        return String(text.prefix(Swift.max(20, width - 1)))
    }

    /// Redraws the bar (throttled; the last batch of an epoch is always drawn).
    public func update(_ info: StepInfo) {
        guard enabled else { return }
        let now = MonotonicClock.now()
        guard now - lastDraw >= 0.1 || info.batch == info.batches else { return }
        lastDraw = now
        emit("\r\u{1B}[2K" + Self.line(info, width: width))
        visible = true
    }

    /// Erases the bar so a normal line can be printed.
    public func clear() {
        guard enabled, visible else { return }
        emit("\r\u{1B}[2K")
        visible = false
    }

    private func emit(_ s: String) {
        var bytes = Array(s.utf8)
        _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}

/// "1:02:03" or "2:03".
func clockText(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    let t = Int(seconds.rounded())
    func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return t >= 3600 ? "\(t / 3600):\(two(t % 3600 / 60)):\(two(t % 60))" : "\(t / 60):\(two(t % 60))"
}
