import Foundation
import StrataImage
import StrataTestSupport
import Testing

/// Decoding against the pixels Pillow 13 gives for the same files (Fixtures/expected.json).
@Suite struct DecoderTests {
    static let pngs = expected.decode.keys.filter { $0.hasSuffix(".png") }.sorted()
    static let jpegs = expected.decode.keys.filter { $0.hasSuffix(".jpg") }.sorted()

    /// PNGs decode exactly as Pillow's (native channels, RGB and gray); 16-bit files within 1
    /// (libpng scales v·255/65535 with rounding, Pillow takes the high byte).
    @Test(arguments: pngs)
    func pngMatchesPillow(name: String) throws {
        let e = try #require(expected.decode[name])
        let tolerance = e.mode.contains("16") || name.contains("16") ? 1 : 0
        let native = try ImageDecoder.decode(path: fixturePath(name))
        #expect((native.width, native.height, native.channels) == (e.width, e.height, e.channels))
        #expect(maxAbsDiff(native.pixels, e.native) <= tolerance)
        let rgb = try ImageDecoder.decode(path: fixturePath(name), channels: 3)
        #expect(rgb.channels == 3 && rgb.pixels.count == e.rgb.count)
        #expect(maxAbsDiff(rgb.pixels, e.rgb) <= tolerance)
        if let gray = e.gray {
            let g = try ImageDecoder.decode(path: fixturePath(name), channels: 1)
            #expect(g.channels == 1 && g.pixels.count == gray.count)
            #expect(maxAbsDiff(g.pixels, gray) <= tolerance)
        }
    }

    /// JPEGs decode as Pillow's libjpeg-turbo does: the system libjpeg-turbo (2.1) and Pillow's
    /// (3.x) use the same integer IDCT and upsampling, so the pixels agree exactly here; allow 1.
    @Test(arguments: jpegs)
    func jpegMatchesPillow(name: String) throws {
        let e = try #require(expected.decode[name])
        let native = try ImageDecoder.decode(path: fixturePath(name))
        #expect((native.width, native.height, native.channels) == (e.width, e.height, e.channels))
        #expect(maxAbsDiff(native.pixels, e.native) <= 1)
        let rgb = try ImageDecoder.decode(path: fixturePath(name), channels: 3)
        #expect(maxAbsDiff(rgb.pixels, e.rgb) <= 1)
        if let gray = e.gray {
            #expect(maxAbsDiff(try ImageDecoder.decode(path: fixturePath(name), channels: 1).pixels, gray) <= 1)
        }
    }

    @Test func decodesFromMemoryLikeFromFile() throws {
        for name in ["rgb_7x5.png", "rgb420_19x13.jpg", "gray_10x7.jpg"] {
            let bytes = readBytes(fixturePath(name))
            #expect(try ImageDecoder.decode(bytes: bytes, name: name) == ImageDecoder.decode(path: fixturePath(name)))
        }
        #expect(ImageDecoder.format(of: readBytes(fixturePath("rgb_7x5.png"))) == .png)
        #expect(ImageDecoder.format(of: readBytes(fixturePath("cmyk_16x16.jpg"))) == .jpeg)
        #expect(ImageDecoder.format(of: Array("hello".utf8)) == nil)
    }

    @Test func convertsChannels() {
        let rgb = Image(width: 2, height: 1, channels: 3, pixels: [255, 0, 0, 10, 200, 30])
        // Pillow 13: convert("L") of these two pixels gives 76 and 124.
        #expect(rgb.converted(toChannels: 1).pixels == [76, 124])
        let gray = Image(width: 2, height: 1, channels: 1, pixels: [7, 250])
        #expect(gray.converted(toChannels: 3).pixels == [7, 7, 7, 250, 250, 250])
        #expect(gray.converted(toChannels: 1) == gray)
        var img = Image(width: 3, height: 2, channels: 3)
        img[y: 1, x: 2, c: 1] = 9
        #expect(img.pixels[(1 * 3 + 2) * 3 + 1] == 9 && img[y: 1, x: 2, c: 1] == 9)
    }

    // MARK: Bad input

    func expectError(
        _ kinds: Set<ImageError.Kind>, _ name: String = "test", bytes: [UInt8],
        mentioning text: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            let image = try ImageDecoder.decode(bytes: bytes, name: name)
            Issue.record("decoded \(image.width)×\(image.height) instead of throwing", sourceLocation: sourceLocation)
        } catch let error as ImageError {
            #expect(kinds.contains(error.kind), "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix(name + ": "), sourceLocation: sourceLocation)
            if let text { #expect(error.description.contains(text), "\(error)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func missingFileDirectoryAndEmptyFile() throws {
        let dir = TemporaryDirectory()
        for (path, kind, text) in [
            (dir.file("nope.jpg"), ImageError.Kind.unreadable, "No such file"),
            (dir.path, .unreadable, "directory"),
            (dir.write([], to: "empty.png"), .empty, "empty"),
        ] {
            do {
                _ = try ImageDecoder.decode(path: path)
                Issue.record("no error for \(path)")
            } catch let error as ImageError {
                #expect(error.kind == kind && error.name == path)
                #expect(error.description.hasPrefix(path + ": ") && error.description.contains(text), "\(error)")
            }
        }
    }

    @Test func notAnImage() {
        expectError(
            [.unsupportedFormat], bytes: Array("Hello, world! This is text.".utf8), mentioning: "not a JPEG or PNG")
        expectError(
            [.unsupportedFormat], bytes: Array("GIF89a".utf8) + [UInt8](repeating: 0, count: 20), mentioning: "GIF")
        expectError([.unsupportedFormat], bytes: [0x42, 0x4D] + [UInt8](repeating: 0, count: 60), mentioning: "BMP")
        expectError([.unsupportedFormat], bytes: [0xFF], mentioning: "ff")
        expectError([.unsupportedFormat], bytes: [0xFF, 0xD8], mentioning: "damaged JPEG")
        expectError([.unsupportedFormat], bytes: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A], mentioning: "damaged PNG")
    }

    /// Every cut of a PNG that loses image data throws (only the trailing IEND chunk may be missing).
    @Test(arguments: ["rgb_7x5.png", "palette_6x5.png", "interlaced_7x5.png", "rgb16_4x3.png", "small_rgb.png"])
    func truncatedPNG(name: String) {
        let bytes = readBytes(fixturePath(name))
        let iend = bytes.count - 12
        for cut in [8, 16, 29, 33, 40, iend / 2, iend - 20, iend - 5, iend - 1] where cut > 0 && cut < iend {
            expectError([.truncated, .corrupt], name, bytes: Array(bytes[..<cut]))
        }
    }

    /// Every cut of a JPEG throws: libjpeg's "Premature end of JPEG file" counts as truncated, as in Pillow.
    @Test(arguments: [
        "rgb444_16x16.jpg", "rgb420_19x13.jpg", "progressive_19x13.jpg", "gray_10x7.jpg", "cmyk_16x16.jpg",
    ])
    func truncatedJPEG(name: String) {
        let bytes = readBytes(fixturePath(name))
        for cut in [3, 4, 20, 100, bytes.count / 2, bytes.count - 50, bytes.count - 2] where cut < bytes.count {
            expectError([.truncated, .corrupt], name, bytes: Array(bytes[..<cut]))
        }
        expectError([.truncated], name, bytes: Array(bytes[..<(bytes.count / 2)]), mentioning: "truncated JPEG")
    }

    /// A PNG chunk with its CRC recomputed, so libpng reads its content.
    func pngChunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }

    func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }

    func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }

    @Test func corruptPNG() {
        let good = readBytes(fixturePath("rgb_7x5.png"))
        let signature = Array(good[..<8])
        // A bad CRC in IHDR.
        var badCRC = good
        badCRC[29] ^= 0xFF
        expectError([.corrupt], "crc.png", bytes: badCRC, mentioning: "corrupt PNG")
        // IDAT whose zlib stream is garbage (CRC fixed up, so zlib sees it).
        let ihdr = pngChunk("IHDR", be32(7) + be32(5) + [8, 2, 0, 0, 0])
        let garbage =
            signature + ihdr + pngChunk("IDAT", [0x78, 0x9C, 0xFF, 0xFF, 0x00, 0x12, 0x34, 0x56]) + pngChunk("IEND", [])
        expectError([.corrupt, .truncated], "zlib.png", bytes: garbage)
        // No IDAT at all.
        expectError([.corrupt, .truncated], "noidat.png", bytes: signature + ihdr + pngChunk("IEND", []))
        // Invalid header fields: bit depth 3, zero width, colour type 5.
        for fields in [
            be32(7) + be32(5) + [3, 2, 0, 0, 0], be32(0) + be32(5) + [8, 2, 0, 0, 0],
            be32(7) + be32(5) + [8, 5, 0, 0, 0],
        ] {
            expectError([.corrupt], "ihdr.png", bytes: signature + pngChunk("IHDR", fields) + Array(good[33...]))
        }
    }

    /// A header that claims a huge image is refused before anything is allocated.
    @Test func lyingHeadersAreRefused() {
        let good = readBytes(fixturePath("rgb_7x5.png"))
        let signature = Array(good[..<8])
        let huge = signature + pngChunk("IHDR", be32(100_000) + be32(100_000) + [8, 2, 0, 0, 0]) + Array(good[33...])
        expectError([.tooLarge], "huge.png", bytes: huge, mentioning: "100000×100000")
        // 16384² (268 M pixels, 3.9 GB to decode from a file of under a megabyte): over Pillow's MAX_IMAGE_PIXELS.
        let bomb = signature + pngChunk("IHDR", be32(16384) + be32(16384) + [8, 2, 0, 0, 0]) + Array(good[33...])
        expectError([.tooLarge], "bomb.png", bytes: bomb, mentioning: "16384×16384")
        #expect(ImageDecoder.maxPixels == 89_478_485)
        // Beyond libpng's own limit (1,000,000 a side): libpng refuses it itself.
        let enormous =
            signature + pngChunk("IHDR", be32(0x7FFF_FFFF) + be32(0x7FFF_FFFF) + [8, 2, 0, 0, 0]) + Array(good[33...])
        expectError([.corrupt, .tooLarge], "enormous.png", bytes: enormous)

        // JPEG: patch the SOF marker's height and width to 65000×65000 (4.2 G pixels).
        var jpeg = readBytes(fixturePath("rgb444_16x16.jpg"))
        let sof = (0..<(jpeg.count - 9)).first { jpeg[$0] == 0xFF && (jpeg[$0 + 1] == 0xC0 || jpeg[$0 + 1] == 0xC2) }!
        jpeg.replaceSubrange(sof + 5..<sof + 9, with: [0xFD, 0xE8, 0xFD, 0xE8])
        expectError([.tooLarge], "huge.jpg", bytes: jpeg, mentioning: "65000×65000")
        // And 0 rows.
        jpeg.replaceSubrange(sof + 5..<sof + 9, with: [0x00, 0x00, 0x00, 0x10])
        expectError([.corrupt], "zero.jpg", bytes: jpeg)
    }

    @Test func corruptJPEG() {
        expectError(
            [.corrupt, .truncated], "junk.jpg", bytes: [0xFF, 0xD8, 0xFF] + [UInt8](repeating: 0x41, count: 200))
        var bytes = readBytes(fixturePath("rgb420_19x13.jpg"))
        // Destroy the quantization tables' marker (DQT → an undefined marker).
        let dqt = (0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xDB }!
        bytes[dqt + 1] = 0x4F
        expectError([.corrupt, .truncated], "nodqt.jpg", bytes: bytes)
    }

    /// Random damage to every fixture never traps: each try decodes or throws an ImageError.
    @Test func randomDamageNeverTraps() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var decoded = 0
        var failed = 0
        for name in expected.decode.keys.sorted() {
            let good = readBytes(fixturePath(name))
            for _ in 0..<40 {
                var bytes = good
                for _ in 0..<(1 + next() % 4) {
                    let i = 2 + next() % (bytes.count - 2) // keep the magic mostly intact
                    bytes[i] = UInt8(truncatingIfNeeded: next())
                }
                if next() % 4 == 0 { bytes.removeLast(next() % (bytes.count / 2)) }
                do {
                    let img = try ImageDecoder.decode(bytes: bytes, name: name, channels: 3)
                    #expect(img.pixels.count == img.width * img.height * 3)
                    decoded += 1
                } catch is ImageError {
                    failed += 1
                }
            }
        }
        #expect(decoded + failed == expected.decode.count * 40)
    }

    // MARK: The shared sample photos

    /// The real photos decode to their sizes, with Pillow's pixels (sampled): PNGs exactly,
    /// JPEGs within 1 per sample and 0.05 in the mean.
    @Test(.enabled(if: photosAvailable && expected.photos != nil, "needs ../shared/data/photos"))
    func samplePhotosMatchPillow() throws {
        for (name, e) in try #require(expected.photos).sorted(by: { $0.key < $1.key }) {
            let img = try ImageDecoder.decode(path: photosDirectory + "/" + name)
            #expect((img.width, img.height, img.channels) == (e.width, e.height, e.channels), "\(name)")
            let sampled = e.indices.map { img.pixels[$0] }
            let tolerance = name.hasSuffix(".png") ? 0 : 1
            #expect(maxAbsDiff(sampled, e.values) <= tolerance, "\(name)")
            for c in 0..<e.channels {
                var sum = 0
                for i in stride(from: c, to: img.pixels.count, by: e.channels) { sum += Int(img.pixels[i]) }
                #expect(
                    abs(Double(sum) / Double(img.width * img.height) - e.mean[c]) <= (tolerance == 0 ? 1e-9 : 0.05),
                    "\(name)")
            }
        }
    }

    /// Every file in the shared photo folders decodes: CIFAR samples 32×32 RGB, MNIST 28×28 gray.
    @Test(.enabled(if: photosAvailable, "needs ../shared/data/photos"))
    func allSamplePhotosDecode() throws {
        for (folder, size, channels) in [("cifar10-test-samples", 32, 3), ("mnist-test-samples", 28, 1)] {
            let names = try FileManager.default.contentsOfDirectory(atPath: photosDirectory + "/" + folder).sorted()
            #expect(names.count >= 10)
            for name in names {
                let img = try ImageDecoder.decode(path: "\(photosDirectory)/\(folder)/\(name)")
                #expect((img.width, img.height, img.channels) == (size, size, channels), "\(name)")
            }
        }
        let sizes: [String: (Int, Int, Int)] = [
            "skimage_astronaut.png": (512, 512, 3), "skimage_camera.png": (512, 512, 1),
            "skimage_chelsea.png": (451, 300, 3),
            "skimage_coffee.png": (600, 400, 3), "skimage_coins.png": (384, 303, 1),
            "skimage_hubble_deep_field.jpg": (1000, 872, 3),
            "skimage_retina.jpg": (1411, 1411, 3), "skimage_rocket.jpg": (640, 427, 3),
            "sklearn_china.jpg": (640, 427, 3),
            "sklearn_flower.jpg": (640, 427, 3),
        ]
        for (name, s) in sizes {
            let img = try ImageDecoder.decode(path: photosDirectory + "/" + name)
            #expect((img.width, img.height, img.channels) == s, "\(name)")
            #expect(try ImageDecoder.decode(path: photosDirectory + "/" + name, channels: 3).channels == 3)
        }
    }
}
