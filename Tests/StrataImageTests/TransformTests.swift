import Foundation
import StrataImage
import StrataTensor
import Testing

/// Resize, crop and normalize against Pillow 13 / torchvision 0.29 (Fixtures/expected.json).
/// Resizing and cropping are bit-exact; normalized values agree to 1e-6 (both Float32, same order of operations).
@Suite struct TransformTests {
    static func source(_ file: String) throws -> Image { try ImageDecoder.decode(path: fixturePath(file)) }

    /// `Image.resize((w, h), BILINEAR)` and `T.Resize(s)` on RGB and gray: down, up, mixed, to 1×1, identity.
    @Test(arguments: expected.resize)
    func resizeMatchesPillow(entry: ResizeEntry) throws {
        let src = try Self.source(entry.file)
        let out =
            entry.shorter.map { ImageTransforms.resizeShorterSide(src, to: $0) }
            ?? ImageTransforms.resize(src, width: entry.width, height: entry.height)
        #expect((out.width, out.height) == (entry.width, entry.height))
        #expect(out.pixels.map(Int.init) == entry.pixels)
    }

    /// `T.CenterCrop((h, w))`: odd and even margins (Python rounds halves to even), and zero padding.
    @Test(arguments: expected.crop)
    func centerCropMatchesTorchvision(entry: ResizeEntry) throws {
        let out = ImageTransforms.centerCrop(try Self.source(entry.file), width: entry.width, height: entry.height)
        #expect((out.width, out.height) == (entry.width, entry.height))
        #expect(out.pixels.map(Int.init) == entry.pixels)
    }

    /// The whole ImageNet eval pipeline on a 300×260 test pattern.
    @Test func imageNetEvalMatchesTorchvision() throws {
        let e = expected.eval
        let src = try Self.source(e.file)
        let resized = ImageTransforms.resizeShorterSide(src, to: 256)
        #expect([resized.width, resized.height] == e.resized)
        let reference = try ImageDecoder.decode(path: fixturePath(e.crop_png))
        #expect(ImageTransforms.centerCrop(resized, size: 224) == reference)
        #expect(ImageTransforms.resizeShorterSideAndCenterCrop(src, resize: 256, crop: 224) == reference)

        let t = ImageTransforms.imageNetEval(src)
        #expect(t.shape == [1, 3, 224, 224] && t.dtype == .float32)
        let v = t.floats
        for (i, want) in zip(e.indices, e.values) {
            #expect(abs(Double(v[i]) - want) <= 1e-6, "index \(i): \(v[i]) vs \(want)")
        }
        for c in 0..<3 {
            let sum = v[(c * 224 * 224)..<((c + 1) * 224 * 224)].reduce(0.0) { $0 + Double($1) }
            #expect(abs(sum - e.sum[c]) <= 1e-3, "channel \(c) sum \(sum) vs \(e.sum[c])")
        }
    }

    /// On real photos (when present): the eval tensor agrees with torchvision's, exactly for PNG
    /// and within 0.02 (about one 8-bit step, 1/255/0.229) for JPEG.
    @Test(.enabled(if: photosAvailable && expected.photos != nil, "needs ../shared/data/photos"))
    func evalOnPhotosMatchesTorchvision() throws {
        for (name, photo) in try #require(expected.photos) {
            guard let e = photo.eval else { continue }
            let t = ImageTransforms.imageNetEval(
                try ImageDecoder.decode(path: photosDirectory + "/" + name, channels: 3))
            let v = t.floats
            let tol = name.hasSuffix(".png") ? 1e-6 : 0.02
            var worst = 0.0
            for (i, want) in zip(e.indices, e.values) { worst = max(worst, abs(Double(v[i]) - want)) }
            #expect(worst <= tol, "\(name): worst difference \(worst)")
        }
    }

    /// Resize+crop computed together equals resize then crop, including for elongated images and
    /// crops larger than the resized image.
    @Test(arguments: [
        [5, 60, 256, 224], [60, 5, 256, 224], [41, 31, 32, 32], [41, 31, 20, 32], [41, 31, 29, 27], [13, 9, 9, 9],
    ])
    func resizeAndCropTogetherEqualsSeparately(sizes: [Int]) throws {
        let (w, h, resize, crop) = (sizes[0], sizes[1], sizes[2], sizes[3])
        var src = Image(width: w, height: h, channels: 3)
        for i in src.pixels.indices { src.pixels[i] = UInt8(truncatingIfNeeded: i &* 37 &+ i / 7) }
        let separate = ImageTransforms.centerCrop(ImageTransforms.resizeShorterSide(src, to: resize), size: crop)
        #expect(ImageTransforms.resizeShorterSideAndCenterCrop(src, resize: resize, crop: crop) == separate)
    }

    @Test func sizes() {
        #expect(ImageTransforms.sizeWithShorterSide(256, width: 500, height: 375) == (341, 256))
        #expect(ImageTransforms.sizeWithShorterSide(256, width: 375, height: 500) == (256, 341))
        #expect(ImageTransforms.sizeWithShorterSide(256, width: 300, height: 300) == (256, 256))
        #expect(ImageTransforms.sizeWithShorterSide(32, width: 32, height: 32) == (32, 32))
        // Odd margins: Python's round(1.5) = 2, round(0.5) = 0, round(2.5) = 2.
        #expect(ImageTransforms.centerCropOrigin(width: 4, height: 10, imageWidth: 7, imageHeight: 11) == (2, 0))
        #expect(ImageTransforms.centerCropOrigin(width: 2, height: 1, imageWidth: 7, imageHeight: 6) == (2, 2))
        #expect(ImageTransforms.centerCropOrigin(width: 10, height: 9, imageWidth: 7, imageHeight: 6) == (-1, -1))
    }

    @Test func toTensorScalesAndNormalizes() {
        let img = Image(width: 2, height: 1, channels: 3, pixels: [0, 128, 255, 51, 102, 204])
        let unit = ImageTransforms.toTensor(img, normalizedWith: .unitRange)
        #expect(unit.shape == [1, 3, 1, 2])
        #expect(unit.floats == [0, Float(51) / 255, Float(128) / 255, Float(102) / 255, 1, Float(204) / 255])
        let n = ImageTransforms.toTensor(img).floats
        let m = ImageTransforms.Normalization.imageNet
        #expect(n[0] == (0 - m.mean[0]) / m.std[0] && n[5] == (Float(204) / 255 - m.mean[2]) / m.std[2])

        let gray = Image(width: 1, height: 2, channels: 1, pixels: [0, 255])
        let g = ImageTransforms.toTensor(gray, normalizedWith: .init(mean: [0.5], std: [0.5]))
        #expect(g.shape == [1, 1, 2, 1] && g.floats == [-1, 1])

        let batch = ImageTransforms.toTensor([img, img], normalizedWith: .unitRange)
        #expect(batch.shape == [2, 3, 1, 2] && batch.floats == unit.floats + unit.floats)
    }
}
