import Foundation
import StrataImage
import Testing

@Suite struct ImageEncoderTests {
    static func scratch(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "strata-plot-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir + "/" + name
    }

    @Test(arguments: [1, 3]) func pngRoundTripIsExact(channels: Int) throws {
        let w = 37
        let h = 11
        var rng = SystemRandomNumberGenerator()
        let pixels = (0..<(w * h * channels)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let image = Image(width: w, height: h, channels: channels, pixels: pixels)
        let bytes = try ImageEncoder.pngBytes(image)
        #expect(ImageDecoder.format(of: bytes) == .png)
        let back = try ImageDecoder.decode(bytes: bytes, name: "round trip")
        #expect(back == image)

        let path = Self.scratch("round-trip-\(channels).png")
        try ImageEncoder.writePNG(image, to: path)
        #expect(try ImageDecoder.decode(path: path) == image)
        // Written atomically: no temporary file is left beside it.
        let dir = (path as NSString).deletingLastPathComponent
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter {
            $0.hasPrefix(".round-trip-\(channels).png.tmp-")
        }
        #expect(leftovers.isEmpty)
    }

    @Test func errorsNameThePath() throws {
        let image = Image(width: 2, height: 2, channels: 1, filledWith: 7)
        let path = "/nonexistent-dir-strata/x.png"
        do {
            try ImageEncoder.writePNG(image, to: path)
            Issue.record("writing into a missing directory succeeded")
        } catch let error as ImageError {
            #expect(error.name == path)
            #expect(error.description.contains(path))
        }
        let dir = Self.scratch("a-directory.png")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        #expect(throws: ImageError.self) { try ImageEncoder.writePNG(image, to: dir) }
    }

    @Test func emptyImageIsAnErrorNotATrap() {
        #expect(throws: ImageError.self) {
            try ImageEncoder.pngBytes(Image(width: 0, height: 0, channels: 3, pixels: []))
        }
    }
}
