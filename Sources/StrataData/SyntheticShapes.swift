import StrataTensor

/// A built-in dataset that needs no files: ten classes of 32×32 grayscale shapes and
/// textures, generated procedurally and deterministically from (seed, index), with random
/// position, size, contrast and noise. The default dataset of `strata train`.
public struct SyntheticShapes: Dataset {
    public static let names = [
        "circle", "square", "triangle", "cross", "ring",
        "horizontal stripes", "vertical stripes", "diagonal stripes", "checkerboard", "dots",
    ]
    public let count: Int
    public let seed: UInt64
    public var imageShape: [Int] { [1, 32, 32] }
    public var classNames: [String] { Self.names }

    public init(count: Int = 10_000, seed: UInt64 = 0) {
        self.count = count
        self.seed = seed
    }

    public func label(_ index: Int) -> Int { index % 10 }

    public func load(_ index: Int, into pixels: UnsafeMutableBufferPointer<Float>) -> Int {
        var g = RandomGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(index))
        let label = index % 10
        let cx = 10 + g.nextDouble() * 12
        let cy = 10 + g.nextDouble() * 12 // centre
        let r = 5 + g.nextDouble() * 4 // size
        let period = 3 + Double(g.nextInt(below: 4)) // texture period
        let phase = g.nextDouble() * period
        let fg = 0.6 + 0.4 * g.nextDouble()
        let bg = 0.3 * g.nextDouble()
        for y in 0..<32 {
            for x in 0..<32 {
                let dx = Double(x) - cx
                let dy = Double(y) - cy
                let inside: Bool
                switch label {
                case 0: inside = dx * dx + dy * dy <= r * r
                case 1: inside = Swift.abs(dx) <= r * 0.85 && Swift.abs(dy) <= r * 0.85
                case 2: inside = dy <= r * 0.8 && dy >= -r && Swift.abs(dx) <= (dy + r) * 0.6
                case 3:
                    inside =
                        (Swift.abs(dx) <= r * 0.3 && Swift.abs(dy) <= r)
                        || (Swift.abs(dy) <= r * 0.3 && Swift.abs(dx) <= r)
                case 4:
                    let d = (dx * dx + dy * dy).squareRoot()
                    inside = d <= r && d >= r * 0.55
                case 5: inside = (Double(y) + phase).truncatingRemainder(dividingBy: period) < period / 2
                case 6: inside = (Double(x) + phase).truncatingRemainder(dividingBy: period) < period / 2
                case 7: inside = (Double(x + y) + phase).truncatingRemainder(dividingBy: period * 1.4) < period * 0.7
                case 8: inside = (Int((Double(x) + phase) / period) + Int((Double(y) + phase) / period)) % 2 == 0
                default:
                    let px = (Double(x) + phase).truncatingRemainder(dividingBy: period * 2) - period
                    let py = (Double(y) + phase).truncatingRemainder(dividingBy: period * 2) - period
                    inside = px * px + py * py <= period * 0.5
                }
                let noise = 0.1 * g.nextNormal()
                pixels[y * 32 + x] = Float((inside ? fg : bg) + noise)
            }
        }
        return label
    }
}
