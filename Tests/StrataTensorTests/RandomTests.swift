import StrataTensor
import StrataTestSupport
import Testing

/// RandomGenerator (Core/RandomGenerator.swift) and the random creation functions.
/// No pinned values: reproducibility, independence of seeds and distribution moments.
@Suite("Random numbers")
struct RandomTests {
    @Test("the same seed gives the same sequence")
    func reproducible() {
        var a = RandomGenerator(seed: 42)
        var b = RandomGenerator(seed: 42)
        #expect(a == b)
        for _ in 0..<1000 { #expect(a.next() == b.next()) }
        for _ in 0..<100 {
            #expect(a.nextDouble() == b.nextDouble())
            #expect(a.nextFloat() == b.nextFloat())
            #expect(a.nextNormal() == b.nextNormal())
            #expect(a.nextInt(below: 17) == b.nextInt(below: 17))
        }
        #expect(a.permutation(50) == b.permutation(50))
        #expect(a == b)
        var c = RandomGenerator(seed: 42)
        var d = RandomGenerator(seed: 42)
        #expect(Tensor.normal([4, 5], generator: &c).floats == Tensor.normal([4, 5], generator: &d).floats)
        #expect(
            Tensor.uniform([7], low: -1, high: 1, dtype: .float64, generator: &c).doubles
                == Tensor.uniform([7], low: -1, high: 1, dtype: .float64, generator: &d).doubles)
    }

    @Test("a copied generator continues identically; its state restores it")
    func copies() {
        var a = RandomGenerator(seed: 3)
        _ = a.nextNormal() // leaves a spare normal pending
        var b = a
        #expect(a.nextNormal() == b.nextNormal())
        #expect(a.next() == b.next())
        var c = RandomGenerator(seed: 99)
        c.state = a.state
        #expect(c.next() == a.next())
    }

    @Test("different seeds give different sequences")
    func differentSeeds() {
        let seqs = (0..<8).map { seed -> [UInt64] in
            var g = RandomGenerator(seed: UInt64(seed))
            return (0..<4).map { _ in g.next() }
        }
        #expect(Set(seqs.map { $0.description }).count == 8)
        var a = RandomGenerator(seed: 1)
        var b = RandomGenerator(seed: 2)
        let same = (0..<1000).filter { _ in a.next() == b.next() }.count
        #expect(same == 0)
    }

    @Test("uniform draws: mean 1/2, variance 1/12, in [0, 1)")
    func uniformMoments() {
        var g = RandomGenerator(seed: 5)
        let n = 100_000
        let d = (0..<n).map { _ in g.nextDouble() }
        let f = (0..<n).map { _ in Double(g.nextFloat()) }
        for (name, v) in [("nextDouble", d), ("nextFloat", f)] {
            let mean = v.reduce(0, +) / Double(n)
            let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
            // Standard error of the mean: √(1/12/n) ≈ 0.0009; allow 5σ.
            #expect(Swift.abs(mean - 0.5) < 0.005, "\(name) mean \(mean)")
            #expect(Swift.abs(variance - 1.0 / 12) < 0.002, "\(name) variance \(variance)")
            #expect(v.allSatisfy { $0 >= 0 && $0 < 1 }, "\(name) range")
            // Every tenth of [0, 1) gets about a tenth of the draws.
            var bins = [Int](repeating: 0, count: 10)
            for x in v { bins[Int(x * 10)] += 1 }
            #expect(bins.allSatisfy { Swift.abs($0 - n / 10) < 600 }, "\(name) histogram \(bins)")
        }
        let t = Tensor.uniform([n], low: -2, high: 6, dtype: .float64, generator: &g).doubles
        #expect(t.allSatisfy { $0 >= -2 && $0 < 6 })
        #expect(Swift.abs(t.reduce(0, +) / Double(n) - 2) < 0.04)
    }

    @Test("normal draws: mean 0, standard deviation 1")
    func normalMoments() {
        var g = RandomGenerator(seed: 6)
        let n = 100_000
        let v = (0..<n).map { _ in g.nextNormal() }
        let mean = v.reduce(0, +) / Double(n)
        let std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)).squareRoot()
        // Standard errors: 1/√n ≈ 0.003 for the mean, ≈ 0.0022 for the std.
        #expect(Swift.abs(mean) < 0.015, "mean \(mean)")
        #expect(Swift.abs(std - 1) < 0.012, "std \(std)")
        // About 68.3% within one sigma, 95.4% within two.
        let within1 = Double(v.filter { Swift.abs($0) < 1 }.count) / Double(n)
        let within2 = Double(v.filter { Swift.abs($0) < 2 }.count) / Double(n)
        #expect(Swift.abs(within1 - 0.6827) < 0.01, "within 1σ \(within1)")
        #expect(Swift.abs(within2 - 0.9545) < 0.005, "within 2σ \(within2)")
        // Tensor.normal with mean and std, in Float32.
        let t = Tensor.normal([n], mean: 3, std: 2, generator: &g).doubles
        let tm = t.reduce(0, +) / Double(n)
        let ts = (t.map { ($0 - tm) * ($0 - tm) }.reduce(0, +) / Double(n)).squareRoot()
        #expect(Swift.abs(tm - 3) < 0.03 && Swift.abs(ts - 2) < 0.025, "Tensor.normal mean \(tm) std \(ts)")
    }

    @Test("nextInt(below:) stays in range and covers it evenly")
    func integers() {
        var g = RandomGenerator(seed: 9)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[g.nextInt(below: 7)] += 1 }
        #expect(counts.allSatisfy { Swift.abs($0 - 10_000) < 500 }, "\(counts)")
        #expect((0..<100).allSatisfy { _ in g.nextInt(below: 1) == 0 })
    }

    @Test("permutation is a permutation", arguments: [0, 1, 2, 10, 257])
    func permutation(_ n: Int) {
        var g = RandomGenerator(seed: 10)
        let p = g.permutation(n)
        #expect(p.count == n)
        #expect(p.sorted() == Array(0..<n))
        if n >= 10 {
            #expect(p != Array(0..<n), "a shuffle of \(n) elements should move something")
            #expect(g.permutation(n) != p, "consecutive shuffles differ")
        }
    }

    @Test("permutations are uniform: each element lands everywhere")
    func permutationUniform() {
        var g = RandomGenerator(seed: 11)
        var counts = [[Int]](repeating: [Int](repeating: 0, count: 4), count: 4)
        for _ in 0..<8000 {
            for (pos, v) in g.permutation(4).enumerated() { counts[v][pos] += 1 }
        }
        #expect(counts.joined().allSatisfy { Swift.abs($0 - 2000) < 200 }, "\(counts)")
    }
}
