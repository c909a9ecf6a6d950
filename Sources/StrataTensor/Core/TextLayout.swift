// Column padding for the package's text tables (summaries, evaluation reports, the CLI).
// `package`: shared by every target, not part of the public API.

extension String {
    /// Pads with spaces on the right to `width` characters (longer strings are kept whole).
    package func padded(toWidth width: Int) -> String {
        self + String(repeating: " ", count: Swift.max(0, width - count))
    }

    /// Pads with spaces on the left to `width` characters (longer strings are kept whole).
    package func leftPadded(toWidth width: Int) -> String {
        String(repeating: " ", count: Swift.max(0, width - count)) + self
    }
}
