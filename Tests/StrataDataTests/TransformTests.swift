import StrataData
import StrataTensor
import Testing

/// Runs an out-of-place op on arrays.
func run(_ input: [Float], outCount: Int, _ op: (UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) -> Void)
    -> [Float]
{
    var out = [Float](repeating: .nan, count: outCount)
    input.withUnsafeBufferPointer { src in out.withUnsafeMutableBufferPointer { op(src, $0) } }
    return out
}

/// CHW → HWC.
func toHWC(_ x: [Float], _ c: Int, _ h: Int, _ w: Int) -> [Float] {
    var out = [Float](repeating: 0, count: x.count)
    for ch in 0..<c { for y in 0..<h { for xx in 0..<w { out[(y * w + xx) * c + ch] = x[(ch * h + y) * w + xx] } } }
    return out
}

func randomImage(_ count: Int, seed: UInt64) -> [Float] {
    var g = RandomGenerator(seed: seed)
    return (0..<count).map { _ in g.nextFloat() }
}

func expectNear(
    _ a: [Float], _ b: [Float], _ tolerance: Float = 1e-5, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(a.count == b.count, sourceLocation: sourceLocation)
    let worst = zip(a, b).map { Swift.abs($0 - $1) }.max() ?? 0
    #expect(worst <= tolerance, "\(a) vs \(b)", sourceLocation: sourceLocation)
}

@Suite struct TransformTests {
    let grid: [Float] = (1...16).map(Float.init) // 1×4×4: rows 1–4, 5–8, 9–12, 13–16

    @Test func cropIsAShiftedWindowWithZeroPadding() {
        let box = CropBox(top: -1, left: 1, height: 4, width: 4)
        let out = run(grid, outCount: 16) { ImageOps.crop($0, channels: 1, height: 4, width: 4, box: box, into: $1) }
        #expect(out == [0, 0, 0, 0, 2, 3, 4, 0, 6, 7, 8, 0, 10, 11, 12, 0])
        let flipped = run(grid, outCount: 16) {
            ImageOps.crop($0, channels: 1, height: 4, width: 4, box: box, flip: true, into: $1)
        }
        #expect(flipped == [0, 0, 0, 0, 0, 4, 3, 2, 0, 8, 7, 6, 0, 12, 11, 10])
        let far = run(grid, outCount: 4) {
            ImageOps.crop(
                $0, channels: 1, height: 4, width: 4, box: CropBox(top: 5, left: -9, height: 2, width: 2), into: $1)
        }
        #expect(far == [0, 0, 0, 0])
    }

    @Test func padCropWithAFixedGeneratorGivesTheExpectedWindow() {
        // Pad 4 + random 32×32 crop of a 3×32×32 image: the window starts at (top − 4, left − 4)
        // where top and left are the generator's first two draws below 9.
        let image = (0..<3072).map { Float($0 % 251) }
        for seed: UInt64 in [0, 1, 42, 12345] {
            var g = RandomGenerator(seed: seed)
            var probe = g
            let top = probe.nextInt(below: 9) - 4
            let left = probe.nextInt(below: 9) - 4
            let (out, shape) = ImageTransform([.randomCrop(size: 32, padding: 4)]).apply(
                image, shape: [3, 32, 32], generator: &g)
            #expect(shape == [3, 32, 32])
            #expect(g == probe, "the crop draws exactly two numbers")
            var expected = [Float](repeating: 0, count: 3072)
            for c in 0..<3 {
                for y in 0..<32 {
                    for x in 0..<32 {
                        let sy = y + top
                        let sx = x + left
                        if sy >= 0 && sy < 32 && sx >= 0 && sx < 32 {
                            expected[(c * 32 + y) * 32 + x] = image[(c * 32 + sy) * 32 + sx]
                        }
                    }
                }
            }
            #expect(out == expected, "seed \(seed): window at (\(top), \(left))")
        }
        // Every offset −4…4 occurs.
        var tops = Set<Int>()
        for seed: UInt64 in 0..<400 {
            var g = RandomGenerator(seed: seed)
            tops.insert(g.nextInt(below: 9) - 4)
        }
        #expect(tops == Set(-4...4))
    }

    @Test func flipReversesRows() {
        var chw: [Float] = [1, 2, 3, 4, 5, 6] // 1×2×3
        chw.withUnsafeMutableBufferPointer { ImageOps.flipHorizontal($0, channels: 1, height: 2, width: 3) }
        #expect(chw == [3, 2, 1, 6, 5, 4])
        var hwc: [Float] = [1, 10, 2, 20, 3, 30] // 1×3 pixels of 2 channels
        hwc.withUnsafeMutableBufferPointer {
            ImageOps.flipHorizontal($0, channels: 2, height: 1, width: 3, layout: .hwc)
        }
        #expect(hwc == [3, 30, 2, 20, 1, 10])
        // The transform flips with probability p: p = 1 always, p = 0 never, and ≈ half the time at 0.5.
        var g = RandomGenerator(seed: 3)
        #expect(
            ImageTransform([.horizontalFlip(probability: 1)]).apply([1, 2, 3], shape: [1, 1, 3], generator: &g).pixels
                == [3, 2, 1])
        #expect(
            ImageTransform([.horizontalFlip(probability: 0)]).apply([1, 2, 3], shape: [1, 1, 3], generator: &g).pixels
                == [1, 2, 3])
        var flips = 0
        for _ in 0..<1000
        where ImageTransform([.horizontalFlip(probability: 0.5)])
            .apply([1, 2], shape: [1, 1, 2], generator: &g).pixels == [2, 1]
        { flips += 1 }
        #expect(flips > 430 && flips < 570)
    }

    @Test func normalization() {
        var chw: [Float] = [0.5, 1.0, 0.0, 0.25] // 2×1×2
        let n = Normalization(mean: [0.5, 0.25], std: [0.5, 0.25])
        chw.withUnsafeMutableBufferPointer { ImageOps.normalize($0, channels: 2, height: 1, width: 2, n) }
        #expect(chw == [0, 1, -1, 0])
        var hwc: [Float] = [0.5, 0.0, 1.0, 0.25]
        hwc.withUnsafeMutableBufferPointer { ImageOps.normalize($0, channels: 2, height: 1, width: 2, layout: .hwc, n) }
        #expect(hwc == [0, -1, 1, 0])
        #expect(
            Normalization.cifar10.mean == [0.4914, 0.4822, 0.4465]
                && Normalization.cifar10.std == [0.2470, 0.2435, 0.2616])
        // Measured statistics of a dataset of two constant images.
        let d = InMemoryDataset(
            pixels: [UInt8](repeating: 0, count: 4) + [UInt8](repeating: 255, count: 4),
            labels: [0, 1], imageShape: [1, 2, 2], classNames: ["a", "b"])
        let m = Normalization.measure(d)
        expectNear(m.mean, [0.5])
        expectNear(m.std, [0.5])
    }

    @Test func bilinearResizeWorkedValues() {
        // Upsampling 2 → 4 (half-pixel centres): [0, 1] → [0, .25, .75, 1].
        expectNear(
            run([0, 1], outCount: 4) {
                ImageOps.resize($0, channels: 1, height: 1, width: 2, outHeight: 1, outWidth: 4, into: $1)
            },
            [0, 0.25, 0.75, 1])
        // Downsampling 4 → 2 widens the triangle filter to 2 pixels (antialiasing, as Pillow):
        // out[0] = (.75·0 + .75·1 + .25·2) / 1.75, out[1] = (.25·1 + .75·2 + .75·3) / 1.75.
        expectNear(
            run([0, 1, 2, 3], outCount: 2) {
                ImageOps.resize($0, channels: 1, height: 1, width: 4, outHeight: 1, outWidth: 2, into: $1)
            },
            [1.25 / 1.75, 4 / 1.75])
        // 2-D is separable: 2×2 → 4×4.
        expectNear(
            run([0, 1, 2, 3], outCount: 16) {
                ImageOps.resize($0, channels: 1, height: 2, width: 2, outHeight: 4, outWidth: 4, into: $1)
            },
            [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3])
        // Same size is the identity; a constant image stays constant at any size.
        let img = randomImage(3 * 5 * 7, seed: 1)
        expectNear(
            run(img, outCount: img.count) {
                ImageOps.resize($0, channels: 3, height: 5, width: 7, outHeight: 5, outWidth: 7, into: $1)
            }, img)
        let constant = [Float](repeating: 0.3, count: 2 * 9 * 13)
        expectNear(
            run(constant, outCount: 2 * 4 * 20) {
                ImageOps.resize($0, channels: 2, height: 9, width: 13, outHeight: 4, outWidth: 20, into: $1)
            },
            [Float](repeating: 0.3, count: 2 * 4 * 20))
    }

    @Test func resizeOfABoxEqualsCropThenResize() {
        let img = randomImage(3 * 10 * 12, seed: 2)
        let box = CropBox(top: 2, left: 3, height: 6, width: 7)
        let cropped = run(img, outCount: 3 * 6 * 7) {
            ImageOps.crop($0, channels: 3, height: 10, width: 12, box: box, into: $1)
        }
        let a = run(cropped, outCount: 3 * 4 * 5) {
            ImageOps.resize($0, channels: 3, height: 6, width: 7, outHeight: 4, outWidth: 5, into: $1)
        }
        let b = run(img, outCount: 3 * 4 * 5) {
            ImageOps.resize($0, channels: 3, height: 10, width: 12, box: box, outHeight: 4, outWidth: 5, into: $1)
        }
        expectNear(a, b, 0)
    }

    @Test func hwcAndCHWAgree() {
        let (c, h, w) = (3, 11, 9)
        let chw = randomImage(c * h * w, seed: 5)
        let hwc = toHWC(chw, c, h, w)
        let steps: [ImageTransform.Step] = [
            .randomResizedCrop(size: 6), .horizontalFlip(probability: 0.5), .resize(shorterSide: 8),
            .centerCrop(size: 7), .randomCrop(size: 7, padding: 2), .normalize(.cifar10),
        ]
        for seed: UInt64 in 0..<20 {
            var g1 = RandomGenerator(seed: seed)
            var g2 = RandomGenerator(seed: seed)
            let a = ImageTransform(steps).apply(chw, shape: [c, h, w], generator: &g1)
            let b = ImageTransform(steps, layout: .hwc).apply(hwc, shape: [h, w, c], generator: &g2)
            #expect(a.shape == [3, 7, 7] && b.shape == [7, 7, 3])
            expectNear(toHWC(a.pixels, 3, 7, 7), b.pixels, 1e-6)
        }
    }

    @Test func randomResizedCropStaysInBoundsAndIsDeterministic() {
        var fallbacks = 0
        for (h, w) in [(32, 32), (50, 80), (300, 200), (7, 5), (1, 1), (2, 100)] {
            for seed: UInt64 in 0..<300 {
                var g = RandomGenerator(seed: seed)
                var g2 = RandomGenerator(seed: seed)
                let box = ImageOps.randomResizedCropBox(height: h, width: w, generator: &g)
                #expect(box == ImageOps.randomResizedCropBox(height: h, width: w, generator: &g2))
                #expect(box.top >= 0 && box.left >= 0 && box.height >= 1 && box.width >= 1, "\(box) in \(h)×\(w)")
                #expect(box.top + box.height <= h && box.left + box.width <= w, "\(box) in \(h)×\(w)")
                let fraction = Double(box.height * box.width) / Double(h * w)
                let isCentred = box.top == (h - box.height) / 2 && box.left == (w - box.width) / 2
                if !(h >= 32 && w >= 32) || isCentred {
                    if isCentred { fallbacks += 1 }
                    continue
                }
                // Accepted tries keep the area fraction and aspect ratio, up to rounding to whole pixels.
                #expect(fraction > 0.06 && fraction <= 1, "\(box) in \(h)×\(w)")
                let aspect = Double(box.width) / Double(box.height)
                #expect(aspect > 0.7 && aspect < 1.43, "\(box) in \(h)×\(w)")
            }
        }
        #expect(fallbacks < 300 * 6)
        // The transform: deterministic, right size, bounded values.
        let img = randomImage(3 * 40 * 60, seed: 9)
        var g1 = RandomGenerator(seed: 77)
        var g2 = RandomGenerator(seed: 77)
        let t = ImageTransform.imageNetTraining(size: 16)
        let a = t.apply(img, shape: [3, 40, 60], generator: &g1)
        let b = t.apply(img, shape: [3, 40, 60], generator: &g2)
        #expect(a.shape == [3, 16, 16] && a.pixels == b.pixels)
        var g3 = RandomGenerator(seed: 78)
        #expect(t.apply(img, shape: [3, 40, 60], generator: &g3).pixels != a.pixels)
        let raw = ImageTransform([.randomResizedCrop(size: 16)]).apply(img, shape: [3, 40, 60], generator: &g1).pixels
        #expect(raw.allSatisfy { $0 >= -1e-6 && $0 <= 1 + 1e-6 })
    }

    @Test func randomResizedCropFallsBackToACentredCrop() {
        // A scale range that never fits forces all 10 tries to fail.
        var g = RandomGenerator(seed: 1)
        // Tall image (ratio 0.2 < 3/4): full width, height 20 / (3/4) = 26.67 → 27, centred.
        #expect(
            ImageOps.randomResizedCropBox(height: 100, width: 20, scale: 2...3, generator: &g)
                == CropBox(top: 36, left: 0, height: 27, width: 20))
        // Wide image: full height, width 10 · 4/3 = 13.33 → 13.
        #expect(
            ImageOps.randomResizedCropBox(height: 10, width: 50, scale: 2...3, generator: &g)
                == CropBox(top: 0, left: 18, height: 10, width: 13))
        // Ratio within range: the whole image.
        #expect(
            ImageOps.randomResizedCropBox(height: 30, width: 32, scale: 2...3, generator: &g)
                == CropBox(top: 0, left: 0, height: 30, width: 32))
    }

    @Test func centerCropAndResizeSizes() {
        #expect(
            ImageOps.centerCropBox(height: 5, width: 7, cropHeight: 3, cropWidth: 3)
                == CropBox(top: 1, left: 2, height: 3, width: 3))
        // Offsets round half to even, as torchvision (Python's round): (5 − 4) / 2 = 0.5 → 0; (7 − 4) / 2 = 1.5 → 2.
        #expect(
            ImageOps.centerCropBox(height: 5, width: 7, cropHeight: 4, cropWidth: 4)
                == CropBox(top: 0, left: 2, height: 4, width: 4))
        // Larger than the image: centred, zero padded.
        #expect(
            ImageOps.centerCropBox(height: 2, width: 2, cropHeight: 4, cropWidth: 5)
                == CropBox(top: -1, left: -1, height: 4, width: 5))
        #expect(ImageOps.resizedSize(height: 300, width: 200, shorterSide: 100) == (height: 150, width: 100))
        #expect(ImageOps.resizedSize(height: 375, width: 500, shorterSide: 256) == (height: 256, width: 341))
        let img = (0..<25).map(Float.init) // 1×5×5
        var g = RandomGenerator(seed: 0)
        let out = ImageTransform([.centerCrop(size: 3)]).apply(img, shape: [1, 5, 5], generator: &g)
        #expect(out.pixels == [6, 7, 8, 11, 12, 13, 16, 17, 18])
        let eval = ImageTransform.imageNetEvaluation(resize: 8, size: 6)
        #expect(eval.outputShape(for: [3, 20, 30]) == [3, 6, 6] && !eval.isRandom)
        #expect(ImageTransform.cifarTraining().isRandom)
    }

    @Test func cifarRecipeComposes() {
        // pad+crop, flip, normalize == the three ops applied by hand with the same draws.
        let image = randomImage(3072, seed: 11)
        for seed: UInt64 in 0..<10 {
            var g = RandomGenerator(seed: seed)
            var h = g
            let out = ImageTransform.cifarTraining().apply(image, shape: [3, 32, 32], generator: &g).pixels
            let top = h.nextInt(below: 9) - 4
            let left = h.nextInt(below: 9) - 4
            let flip = h.nextDouble() < 0.5
            var expected = run(image, outCount: 3072) {
                ImageOps.crop(
                    $0, channels: 3, height: 32, width: 32, box: CropBox(top: top, left: left, height: 32, width: 32),
                    flip: flip, into: $1)
            }
            expected.withUnsafeMutableBufferPointer {
                ImageOps.normalize($0, channels: 3, height: 32, width: 32, .cifar10)
            }
            #expect(out == expected)
            #expect(g == h)
        }
    }
}
