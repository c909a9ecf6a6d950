import StrataImage
import StrataPlot
import Testing

@Suite struct ImageGridTests {
    @Test func layoutSizeArithmetic() {
        let tiles = (0..<10).map { Image(width: 3, height: 2, channels: 1, filledWith: UInt8($0 * 20)) }
        // 10 tiles: ⌈√10⌉ = 4 columns, 3 rows; cells 3·5 × 2·5.
        let g = ImageGrid.make(tiles, padding: 2, scale: 5, background: 255)
        #expect(g.width == 4 * 15 + 5 * 2 && g.height == 3 * 10 + 4 * 2 && g.channels == 1)
        #expect(g[y: 0, x: 0, c: 0] == 255)
        #expect(g[y: 2, x: 2, c: 0] == 0) // tile 0, top-left
        #expect(g[y: 2, x: 2 + 15 + 2, c: 0] == 20) // tile 1
        #expect(g[y: 2 + 10 + 2, x: 2, c: 0] == 80) // tile 4 starts row 2
        let two = ImageGrid.make(tiles, columns: 5, padding: 0)
        #expect(two.width == 15 && two.height == 4)
        let mixed = ImageGrid.make([
            Image(width: 2, height: 2, channels: 3, filledWith: 9), Image(width: 4, height: 1, channels: 1),
        ])
        #expect(mixed.channels == 3 && mixed.width == 2 * 4 + 3 && mixed.height == 2 + 2)
        #expect(ImageGrid.make([]).width >= 1)
    }

    @Test func tilesAreMinMaxNormalized() {
        let t = ImageGrid.tile([-1, 0, 1, 3], height: 2, width: 2)
        #expect(t.channels == 1 && t.pixels == [0, 64, 128, 255])
        let c = ImageGrid.tile([0, 1], height: 1, width: 2, colorMap: .viridis)
        #expect(c.channels == 3 && Array(c.pixels[0..<3]) == [68, 1, 84])
        #expect(ImageGrid.tile([2, 2], height: 1, width: 2).pixels == [128, 128])
        #expect(ImageGrid.tile([.nan, 1, 2], height: 1, width: 3).pixels == [0, 0, 255])
        // An RGB filter: planes R = [0, 2], G = [1, 1], B = [2, 0], normalized jointly over 0…2.
        let rgb = ImageGrid.rgbTile([0, 2, 1, 1, 2, 0], height: 1, width: 2)
        #expect(rgb.pixels == [0, 128, 255, 255, 128, 0])
    }
}
