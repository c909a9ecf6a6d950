import Testing

@testable import StrataPlot

@Suite struct FontTests {
    @Test func everyPrintableASCIIGlyphIsFiveBySeven() {
        #expect(BitmapFont.source.count == 95)
        for (i, g) in BitmapFont.source.enumerated() {
            let rows = g.split(separator: " ")
            #expect(rows.count == 7, "glyph \(i + 32)")
            #expect(rows.allSatisfy { $0.count == 5 && $0.allSatisfy { $0 == "#" || $0 == "." } }, "glyph \(i + 32)")
        }
        // Space is blank, everything else has ink; no two glyphs are the same.
        #expect(BitmapFont.glyphs[0].allSatisfy { $0 == 0 })
        #expect(BitmapFont.glyphs.dropFirst().allSatisfy { $0.contains { $0 != 0 } })
        #expect(Set(BitmapFont.glyphs.map { $0.map(String.init).joined(separator: ",") }).count == 95)
    }

    @Test func textIsDrawnWhereAsked() {
        var c = Canvas(width: 40, height: 20)
        c.text("I", x: 10, y: 5, scale: 2, color: RGBColor(0, 0, 0))
        // "I" row 0 is .###.: columns 1…3 of the glyph, doubled.
        #expect(c.color(10 + 2, 5) == RGBColor(0, 0, 0))
        #expect(c.color(10, 5) == RGBColor(255, 255, 255))
        #expect(BitmapFont.width("abc", scale: 2) == (3 * 6 - 1) * 2)
        // Non-ASCII is drawn as a look-alike or "?", never a trap.
        c.text("×é", x: 0, y: 0, scale: 1, color: RGBColor(0, 0, 0))
    }
}
