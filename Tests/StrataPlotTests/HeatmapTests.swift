import StrataImage
import StrataPlot
import Testing

@Suite struct HeatmapTests {
    @Test func overlayHasTheImageSize() {
        let photo = Image(width: 37, height: 23, channels: 1, filledWith: 100)
        let out = Heatmap.overlay([0, 1, 2, 3], height: 2, width: 2, on: photo, colorMap: .jet, alpha: 0.5)
        #expect(out.width == 37 && out.height == 23 && out.channels == 3)
        // Top-left is the map's minimum (jet's dark blue), bottom-right its maximum (dark red), half mixed.
        #expect(out[y: 0, x: 0, c: 2] == 114 && out[y: 0, x: 0, c: 0] == 50)
        #expect(out[y: 22, x: 36, c: 0] == 114 && out[y: 22, x: 36, c: 2] == 50)
        let none = Heatmap.overlay([5], height: 1, width: 1, on: photo, alpha: 0)
        #expect(none == photo.converted(toChannels: 3))
    }

    @Test func bilinearMatchesAlignCornersFalse() {
        // torch: F.interpolate(tensor([[[[0., 1.], [2., 3.]]]]), size=(4, 4), mode="bilinear", align_corners=False)
        let up = Heatmap.upsampleBilinear([0, 1, 2, 3], height: 2, width: 2, toHeight: 4, toWidth: 4)
        let expected: [Float] = [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]
        #expect(zip(up, expected).allSatisfy { abs($0 - $1) < 1e-6 })
    }
}
