import StrataTensor
import StrataTestSupport
import Testing

/// Every case of Fixtures/ops.json (PyTorch, float64; see Scripts/make_op_fixtures.py) against
/// Strata, computed in Float64 and in Float32. Errors are measured with `scaledError`
/// (max abs difference over the tensor's max magnitude).
@Suite("PyTorch reference values")
struct FixtureTests {
    /// Float64 agrees with PyTorch's float64 to rounding.
    static let tol64 = 1e-10
    /// Float32 computes in single precision from the rounded inputs.
    static let tol32 = 1e-5

    static let knownOps: Set<String> = [
        "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "local_response_norm",
        "batch_norm2d", "softmax", "log_softmax", "cross_entropy", "linear",
    ]

    @Test("the fixture file loads and every case is of a tested op")
    func inventory() throws {
        let cases = try loadOpFixtures()
        #expect(cases.count >= 71)
        #expect(Set(cases.map(\.name)).count == cases.count, "case names are unique")
        for c in cases { #expect(Self.knownOps.contains(c.op), "untested op \(c.op) in \(c.name)") }
        for op in Self.knownOps { #expect(cases.contains { $0.op == op }, "no case for \(op)") }
    }

    static func tolerance(_ dtype: DType) -> Double { dtype == .float64 ? tol64 : tol32 }

    @Test("conv2d", arguments: try loadOpFixtures(op: "conv2d"), DType.computableCases)
    func conv(_ c: OpFixture, _ dtype: DType) {
        let pad = c.ints("padding")
        let stride = c.ints("stride")
        let dilation = c.ints("dilation")
        let p = Conv2dParameters(
            stride: (stride[0], stride[1]), padding: (top: pad[0], bottom: pad[1], left: pad[2], right: pad[3]),
            dilation: (dilation[0], dilation[1]), groups: c.int("groups"))
        let bias = c.bool("bias") ? c.input("bias").tensor(dtype) : nil
        let y = conv2d(c.input("x").tensor(dtype), weight: c.input("weight").tensor(dtype), bias: bias, p)
        #expect(y.dtype == dtype)
        expectClose(y, c.output("y").tensor(), tolerance: Self.tolerance(dtype), "\(c.name) \(dtype)")
    }

    func poolParameters(_ c: OpFixture) -> Pool2dParameters {
        let k = c.ints("kernel")
        let s = c.ints("stride")
        let p = c.ints("padding")
        let include: Bool
        if case .bool(let b)? = c.params["count_include_pad"] { include = b } else { include = true }
        return Pool2dParameters(
            kernel: (k[0], k[1]), stride: (s[0], s[1]), padding: (p[0], p[1]),
            ceilMode: c.bool("ceil_mode"), countIncludePad: include)
    }

    @Test("max_pool2d", arguments: try loadOpFixtures(op: "max_pool2d"), DType.computableCases)
    func maxPool(_ c: OpFixture, _ dtype: DType) {
        let y = maxPool2d(c.input("x").tensor(dtype), poolParameters(c))
        expectClose(y, c.output("y").tensor(), tolerance: Self.tolerance(dtype), "\(c.name) \(dtype)")
    }

    @Test("avg_pool2d", arguments: try loadOpFixtures(op: "avg_pool2d"), DType.computableCases)
    func avgPool(_ c: OpFixture, _ dtype: DType) {
        let y = avgPool2d(c.input("x").tensor(dtype), poolParameters(c))
        expectClose(y, c.output("y").tensor(), tolerance: Self.tolerance(dtype), "\(c.name) \(dtype)")
    }

    @Test("adaptive_avg_pool2d", arguments: try loadOpFixtures(op: "adaptive_avg_pool2d"), DType.computableCases)
    func adaptive(_ c: OpFixture, _ dtype: DType) {
        let size = c.ints("output_size")
        let y = adaptiveAvgPool2d(c.input("x").tensor(dtype), outputSize: (size[0], size[1]))
        expectClose(y, c.output("y").tensor(), tolerance: Self.tolerance(dtype), "\(c.name) \(dtype)")
    }

    @Test("local_response_norm", arguments: try loadOpFixtures(op: "local_response_norm"), DType.computableCases)
    func lrn(_ c: OpFixture, _ dtype: DType) {
        let y = localResponseNorm(
            c.input("x").tensor(dtype), size: c.int("size"), alpha: c.double("alpha"),
            beta: c.double("beta"), k: c.double("k"))
        expectClose(y, c.output("y").tensor(), tolerance: Self.tolerance(dtype), "\(c.name) \(dtype)")
    }

    @Test(
        "batch_norm2d: output, running statistics and gradients", arguments: try loadOpFixtures(op: "batch_norm2d"),
        DType.computableCases)
    func batchNorm(_ c: OpFixture, _ dtype: DType) {
        let tol = Self.tolerance(dtype)
        let affine = c.bool("affine")
        let x = c.input("x").tensor(dtype).requiringGrad()
        let runningMean = c.input("running_mean").tensor(dtype)
        let runningVar = c.input("running_var").tensor(dtype)
        let weight = affine ? c.input("weight").tensor(dtype).requiringGrad() : nil
        let bias = affine ? c.input("bias").tensor(dtype).requiringGrad() : nil
        let y = batchNorm2d(
            x, runningMean: runningMean, runningVar: runningVar, weight: weight, bias: bias,
            training: c.bool("training"), momentum: c.double("momentum"), eps: c.double("eps"))
        y.backward(c.input("grad_output").tensor(dtype))
        expectClose(y, c.output("y").tensor(), tolerance: tol, "\(c.name) \(dtype) y")
        expectClose(runningMean, c.output("running_mean").tensor(), tolerance: tol, "\(c.name) \(dtype) running_mean")
        expectClose(runningVar, c.output("running_var").tensor(), tolerance: tol, "\(c.name) \(dtype) running_var")
        guard let gx = x.grad else {
            Issue.record("\(c.name): no grad for x")
            return
        }
        expectClose(gx, c.output("grad_x").tensor(), tolerance: tol, "\(c.name) \(dtype) grad_x")
        if let weight, let bias {
            guard let gw = weight.grad, let gb = bias.grad else {
                Issue.record("\(c.name): no grad for weight/bias")
                return
            }
            expectClose(gw, c.output("grad_weight").tensor(), tolerance: tol, "\(c.name) \(dtype) grad_weight")
            expectClose(gb, c.output("grad_bias").tensor(), tolerance: tol, "\(c.name) \(dtype) grad_bias")
        }
    }

    @Test(
        "softmax and log_softmax",
        arguments: try loadOpFixtures().filter { $0.op == "softmax" || $0.op == "log_softmax" }, DType.computableCases)
    func softmax(_ c: OpFixture, _ dtype: DType) {
        let x = c.input("x").tensor(dtype)
        let y = c.op == "softmax" ? x.softmax(axis: c.int("dim")) : x.logSoftmax(axis: c.int("dim"))
        expectClose(y, c.output("y").tensor(), tolerance: Self.tolerance(dtype), "\(c.name) \(dtype)")
    }

    @Test("cross_entropy: loss and gradient", arguments: try loadOpFixtures(op: "cross_entropy"), DType.computableCases)
    func crossEntropyCase(_ c: OpFixture, _ dtype: DType) {
        let logits = c.input("logits").tensor(dtype).requiringGrad()
        guard let reduction = LossReduction(rawValue: c.string("reduction")) else {
            Issue.record("\(c.name): unknown reduction")
            return
        }
        let loss = crossEntropy(
            logits, labels: c.input("labels").ints, labelSmoothing: c.double("label_smoothing"),
            reduction: reduction)
        loss.backward()
        expectClose(loss, c.output("loss").tensor(), tolerance: Self.tolerance(dtype), "\(c.name) \(dtype) loss")
        guard let g = logits.grad else {
            Issue.record("\(c.name): no gradient")
            return
        }
        expectClose(g, c.output("grad_logits").tensor(), tolerance: Self.tolerance(dtype), "\(c.name) \(dtype) grad")
    }

    @Test("linear", arguments: try loadOpFixtures(op: "linear"), DType.computableCases)
    func linearCase(_ c: OpFixture, _ dtype: DType) {
        let y = linear(
            c.input("x").tensor(dtype), weight: c.input("weight").tensor(dtype), bias: c.input("bias").tensor(dtype))
        expectClose(y, c.output("y").tensor(), tolerance: Self.tolerance(dtype), "\(c.name) \(dtype)")
    }
}
