import StrataDNNL
import StrataTensor
import StrataTestSupport
import Testing

// NaN must reach the output as it does in PyTorch and the reference backend (issue 11: the
// oneDNN backend gave finite logits for an all-NaN input: fused ReLU post-ops computed max(x, 0)).
// Each case puts NaN in one place and checks that every output the reference makes NaN is NaN.
@Suite("oneDNN backend: NaN propagates like the reference")
struct NaNPropagationTests {
    static func withNaN(_ t: Tensor, at index: Int = 0) -> Tensor {
        let c = t.copy()
        c.storage.typed(Float.self)[index] = .nan
        return c
    }

    static let cases: [(String, (Tensor) -> Tensor)] = [
        ("relu", { $0.relu() }),
        ("avg pool", { avgPool2d($0, .init(kernel: 2)) }),
        ("max pool", { maxPool2d($0, .init(kernel: 2)) }),
        ("max pool 3×3 s2 p1 ceil", { maxPool2d($0, .init(kernel: 3, stride: 2, padding: 1, ceilMode: true)) }),
        (
            "conv → relu → max pool",
            {
                maxPool2d(
                    conv2d($0, weight: f32([16, 16, 1, 1], 313, std: 0.2)).relu(),
                    .init(kernel: 3, stride: 2, padding: 1))
            }
        ),
        ("conv → relu", { conv2d($0, weight: f32([16, 16, 3, 3], 301, std: 0.2), .init(padding: 1)).relu() }),
        (
            "conv → bn → + → relu",
            { x in
                let h = batchNorm2d(
                    conv2d(x, weight: f32([16, 16, 3, 3], 302, std: 0.2), .init(padding: 1)),
                    runningMean: f32([16], 303), runningVar: f32([16], 304).abs() + 0.5,
                    weight: f32([16], 305), bias: f32([16], 306), training: false)
                return (h + x).relu()
            }
        ),
        (
            "bn → relu (fuse_norm_relu)",
            { x in
                batchNorm2d(
                    x, runningMean: f32([16], 307), runningVar: f32([16], 308).abs() + 0.5,
                    weight: f32([16], 309), bias: f32([16], 310), training: false
                ).relu()
            }
        ),
        (
            "bn (batch statistics) → relu",
            { x in
                batchNorm2d(
                    x, runningMean: f32([16], 307), runningVar: f32([16], 308).abs() + 0.5,
                    weight: f32([16], 309), bias: f32([16], 310), training: true
                ).relu()
            }
        ),
        (
            "Winograd-sized conv → relu",
            { x in
                conv2d(
                    conv2d(x, weight: f32([32, 16, 1, 1], 311, std: 0.2)), weight: f32([64, 32, 3, 3], 312, std: 0.1),
                    .init(padding: 1)
                ).relu()
            }
        ),
    ]

    @Test("a NaN input element gives NaN where it reaches", arguments: 0..<cases.count)
    func propagates(_ i: Int) {
        let (name, f) = Self.cases[i]
        // 32,768 elements: large enough that every op runs on oneDNN, not the reference's small-tensor path.
        let x = Self.withNaN(f32([2, 16, 32, 32], 300))
        let ref = withNoGrad { Backends.with(reference) { f(x) } }
        let fast = withNoGrad { Backends.with(DNNLBackend()) { f(x) } }
        let refNaN = ref.floats.map(\.isNaN)
        let fastNaN = fast.floats.map(\.isNaN)
        let (refCount, fastCount) = (refNaN.filter { $0 }.count, fastNaN.filter { $0 }.count)
        // Every NaN of the reference is NaN here (Winograd spreads a NaN over whole 4×4 output tiles,
        // so it may reach more places than direct convolution's 3×3 neighbourhood).
        let covered = zip(refNaN, fastNaN).allSatisfy { !$0 || $1 }
        #expect(refCount > 0, "\(name): the reference gives NaN")
        #expect(covered, "\(name): oneDNN has NaN at \(fastCount) places, the reference at \(refCount)")
    }
}
