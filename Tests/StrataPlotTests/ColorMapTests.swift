import StrataPlot
import Testing

@Suite struct ColorMapTests {
    @Test func endpointsAndClamping() {
        #expect(ColorMap.gray.rgb(0) == (0, 0, 0))
        #expect(ColorMap.gray.rgb(1) == (255, 255, 255))
        #expect(ColorMap.gray.rgb(7) == (255, 255, 255))
        #expect(ColorMap.gray.rgb(-2) == (0, 0, 0))
        #expect(ColorMap.gray.rgb(.nan) == (0, 0, 0))
        #expect(ColorMap.viridis.rgb(0) == (68, 1, 84))
        #expect(ColorMap.viridis.rgb(1) == (253, 231, 37))
        #expect(ColorMap.jet.rgb(0) == (0, 0, 128)) // matplotlib: (0, 0, 0.5)
        #expect(ColorMap.jet.rgb(1) == (128, 0, 0)) // (0.5, 0, 0)
        #expect(ColorMap.jet.rgb(0.5) == (128, 255, 128))
        // Viridis' luminance rises monotonically.
        let l = stride(from: 0.0, through: 1.0, by: 0.05).map { t -> Double in
            let (r, g, b) = ColorMap.viridis.rgb(t)
            return 0.299 * Double(r) + 0.587 * Double(g) + 0.114 * Double(b)
        }
        #expect(zip(l, l.dropFirst()).allSatisfy { $0 < $1 })
    }
}
