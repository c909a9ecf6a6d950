import StrataTensor
import Testing

/// The error measure used by every closeness check in the suite:
///
///     max_i |actual_i − expected_i| / max(max_i |expected_i|, floor)
///
/// the worst absolute discrepancy relative to the scale of the expected tensor. Unlike an
/// elementwise relative error it does not blow up on elements that are near zero by
/// cancellation; the `floor` keeps an all-but-zero expectation from doing the same.
/// NaN anywhere in `actual` gives `.infinity`.
public func scaledError(_ actual: [Double], _ expected: [Double], floor: Double = 1e-12) -> Double {
    precondition(actual.count == expected.count, "scaledError: \(actual.count) vs \(expected.count) values")
    var worst = 0.0
    var scale = 0.0
    for (a, e) in zip(actual, expected) {
        if a.isNaN != e.isNaN { return .infinity }
        if a.isNaN { continue }
        worst = Swift.max(worst, Swift.abs(a - e))
        scale = Swift.max(scale, Swift.abs(e))
    }
    return worst / Swift.max(scale, floor)
}

/// Records an issue unless `actual` has `expected`'s shape and `scaledError(actual, expected) <= tolerance`.
public func expectClose(
    _ actual: Tensor, _ expected: Tensor, tolerance: Double, _ label: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectClose(
        actual, expected.doubles, shape: expected.shape, tolerance: tolerance, label, sourceLocation: sourceLocation)
}

/// Records an issue unless `actual` has shape `shape` (when given) and values within `tolerance`
/// of `expected` in the sense of ``scaledError(_:_:floor:)``.
public func expectClose(
    _ actual: Tensor, _ expected: [Double], shape: [Int]? = nil, tolerance: Double,
    _ label: String = "", sourceLocation: SourceLocation = #_sourceLocation
) {
    if let shape, actual.shape != shape {
        Issue.record("\(label): shape \(actual.shape), expected \(shape)", sourceLocation: sourceLocation)
        return
    }
    guard actual.count == expected.count else {
        Issue.record("\(label): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    let err = scaledError(actual.doubles, expected)
    #expect(err <= tolerance, "\(label): scaled error \(err) > \(tolerance)", sourceLocation: sourceLocation)
}

/// Records an issue unless `a` and `b` differ by at most `tolerance` (absolute).
public func expectClose(
    _ a: Double, _ b: Double, tolerance: Double, _ label: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(
        Swift.abs(a - b) <= tolerance, "\(label): \(a) vs \(b) (tolerance \(tolerance))", sourceLocation: sourceLocation
    )
}

/// Records an issue unless the two arrays are equal elementwise within `tolerance` (absolute).
public func expectClose(
    _ a: [Double], _ b: [Double], tolerance: Double, _ label: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard a.count == b.count else {
        Issue.record("\(label): \(a.count) values vs \(b.count)", sourceLocation: sourceLocation)
        return
    }
    let worst = zip(a, b).map { Swift.abs($0 - $1) }.max() ?? 0
    #expect(
        worst <= tolerance, "\(label): \(a) vs \(b) (max difference \(worst), tolerance \(tolerance))",
        sourceLocation: sourceLocation)
}
