/// Shapes as users type them on a command line: `3x224x224`, `32x64x64x56x56` (`×` works too).
public enum ShapeText {
    /// A shape string that is not `rank` positive sizes within the limits; the message names the option.
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Parses `text` into `rank` positive sizes, each at most `maxSize`, whose product is at most `maxElements`.
    /// - Parameters:
    ///   - text: the sizes separated by `x` or `×`.
    ///   - rank: the number of sizes expected.
    ///   - option: the argument's name for the error (`--input`).
    ///   - layout: what the sizes mean, for the error (`C×H×W`).
    ///   - maxSize: the largest size accepted.
    ///   - maxElements: the largest product of the sizes accepted.
    /// - Throws: ``ParseError`` naming `option`, the text found and the form expected.
    public static func parse(
        _ text: String, rank: Int, option: String, layout: String,
        maxSize: Int = 100_000, maxElements: Int = 1 << 31
    ) throws -> [Int] {
        let parts = text.lowercased().split(
            omittingEmptySubsequences: false, whereSeparator: { $0 == "x" || $0 == "×" })
        let sizes = parts.map { Int($0.trimmingSpaces) }
        var elements = 1
        let valid =
            sizes.count == rank
            && sizes.allSatisfy { s in
                guard let s, s > 0, s <= maxSize else { return false }
                let (p, overflow) = elements.multipliedReportingOverflow(by: s)
                elements = overflow ? Int.max : p
                return true
            } && elements <= maxElements
        guard valid else {
            let shown = text.count > 80 ? String(text.prefix(80)) + "…" : text
            throw ParseError(
                description:
                    "\(option): expected \(layout), \(rank) positive sizes of at most \(maxSize) joined by 'x' "
                    + "(\(groupedThousands(maxElements)) elements at most), got '\(shown)'")
        }
        return sizes.map { $0! }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
