import Testing

@testable import StrataPlot

@Suite struct AxisTests {
    @Test func linearTicksAreNice() {
        let a = Axis(covering: [0.13, 0.92], scale: .linear)
        #expect(a.ticks.map(\.label) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        #expect(a.lo == 0 && abs(a.hi - 1) < 1e-12)
        let b = Axis(covering: [-3, 47], scale: .linear)
        #expect(b.ticks.first?.value == -10 && b.ticks.last?.value == 50)
        #expect(b.ticks.map(\.label).contains("20"))
        #expect(
            Axis.niceStep(0.7) == 1 && Axis.niceStep(1.2) == 2 && Axis.niceStep(3) == 5 && Axis.niceStep(0.03) == 0.05)
    }

    @Test func logAxisHasDecades() {
        let a = Axis(covering: [0.003, 0, -5, 250, .nan], scale: .log10)
        #expect(a.ticks.map(\.label) == ["0.001", "0.01", "0.1", "1", "10", "100", "1000"])
        #expect(a.fraction(0) == nil && a.fraction(-1) == nil)
        #expect(a.minorTicks.contains(2e-3))
        let wide = Axis(covering: [1e-12, 1e12], scale: .log10)
        #expect(wide.ticks.count <= 13)
        #expect(wide.ticks.map(\.label).contains("1e-12"))
    }

    @Test func degenerateRangesDoNotTrap() {
        for values in [[], [5.0], [0.0], [.nan, .infinity], [1e308, -1e308], [.greatestFiniteMagnitude]] {
            let a = Axis(covering: values, scale: .linear)
            #expect(a.hi > a.lo || !a.ticks.isEmpty)
            _ = Axis(covering: values, scale: .log10)
        }
    }
}
