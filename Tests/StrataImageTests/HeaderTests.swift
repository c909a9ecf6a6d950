import Foundation
import StrataImage
import StrataTestSupport
import Testing

/// ImageDecoder.header / dimensions: the size from the header alone, agreeing with decoding.
@Suite struct HeaderTests {
    static let fixtures =
        (try? FileManager.default.contentsOfDirectory(atPath: fixtureDirectory))?
        .filter { $0.hasSuffix(".png") || $0.hasSuffix(".jpg") }.sorted() ?? []

    @Test(arguments: fixtures)
    func headerAgreesWithDecoding(name: String) throws {
        let image = try ImageDecoder.decode(path: fixturePath(name))
        let header = try ImageDecoder.header(path: fixturePath(name))
        #expect(
            header.width == image.width && header.height == image.height && header.channels == image.channels,
            "\(header)")
        #expect(header.format == (name.hasSuffix(".png") ? .png : .jpeg))
        #expect(try ImageDecoder.header(bytes: readBytes(fixturePath(name)), name: name) == header)
        let size = try ImageDecoder.dimensions(path: fixturePath(name))
        #expect(size.width == image.width && size.height == image.height)
    }

    /// The shared sample photos (EXIF, ICC, large files), when present: header = decoded size.
    @Test(.enabled(if: photosAvailable, "needs <repo>/../shared/data/photos"))
    func photosHeadersAgreeWithDecoding() throws {
        let fm = FileManager.default
        let names = try fm.subpathsOfDirectory(atPath: photosDirectory)
            .filter { $0.hasSuffix(".png") || $0.hasSuffix(".jpg") }
        #expect(names.count >= 40)
        for name in names {
            let path = photosDirectory + "/" + name
            let image = try ImageDecoder.decode(path: path)
            let header = try ImageDecoder.header(path: path)
            #expect(
                (header.width, header.height, header.channels) == (image.width, image.height, image.channels), "\(name)"
            )
        }
    }

    /// A JPEG whose first scan lies far beyond the first chunk read (large APP segments, as
    /// EXIF thumbnails and ICC profiles make): the reader follows the segments.
    @Test func jpegWithLargeMetadataSegments() throws {
        let dir = TemporaryDirectory()
        let original = readBytes(fixturePath("rgb420_19x13.jpg"))
        let app1: [UInt8] = [0xFF, 0xE1, 0xEA, 0x60] + [UInt8](repeating: 0x41, count: 60_000 - 2)
        let app2: [UInt8] = [0xFF, 0xE2, 0xC3, 0x50] + [UInt8](repeating: 0x42, count: 50_000 - 2)
        let bytes = Array(original[0..<2]) + app1 + app2 + Array(original[2...])
        let path = dir.write(bytes, to: "big-exif.jpg")
        let header = try ImageDecoder.header(path: path)
        #expect(header == ImageDecoder.Header(format: .jpeg, width: 19, height: 13, channels: 3))
        #expect(try ImageDecoder.decode(path: path) == ImageDecoder.decode(path: fixturePath("rgb420_19x13.jpg")))
        // Cut inside the second APP segment: truncated before the image data.
        let cut = dir.write(Array(bytes.prefix(70_000)), to: "cut.jpg")
        expectHeaderError(.truncated, path: cut, mentioning: "inside its header")
    }

    @Test func truncatedJPEG() throws {
        let dir = TemporaryDirectory()
        let bytes = readBytes(fixturePath("rgb444_16x16.jpg"))
        // Cut in the header: the header check fails.
        expectHeaderError(
            .truncated, path: dir.write(Array(bytes.prefix(60)), to: "head.jpg"), mentioning: "truncated JPEG")
        // Cut in the image data: the header is fine, decoding fails.
        let late = dir.write(Array(bytes.prefix(bytes.count - 200)), to: "data.jpg")
        #expect(try ImageDecoder.header(path: late).width == 16)
        #expect(throws: ImageError.self) { try ImageDecoder.decode(path: late) }
    }

    @Test func damagedPNGHeaders() throws {
        let dir = TemporaryDirectory()
        let bytes = readBytes(fixturePath("rgb_7x5.png"))
        expectHeaderError(
            .truncated, path: dir.write(Array(bytes.prefix(20)), to: "short.png"), mentioning: "truncated PNG")
        var crc = bytes
        crc[17] ^= 0x01 // width changes, the CRC no longer matches
        expectHeaderError(.corrupt, path: dir.write(crc, to: "crc.png"), mentioning: "CRC")
        #expect(throws: ImageError.self) { try ImageDecoder.decode(path: dir.file("crc.png")) }
        var type = bytes
        type[12] = UInt8(ascii: "X")
        expectHeaderError(.corrupt, path: dir.write(type, to: "type.png"), mentioning: "not IHDR")
        // Damaged image data (in IDAT) passes the header check but not decoding.
        var data = bytes
        for i in 45..<(bytes.count - 20) { data[i] ^= 0x5A }
        let late = dir.write(data, to: "data.png")
        #expect(
            try ImageDecoder.header(path: late) == ImageDecoder.Header(format: .png, width: 7, height: 5, channels: 3))
        #expect(throws: ImageError.self) { try ImageDecoder.decode(path: late) }
    }

    @Test func notImages() {
        let dir = TemporaryDirectory()
        expectHeaderError(.empty, path: dir.write([], to: "empty.jpg"))
        expectHeaderError(
            .unsupportedFormat, path: dir.write(Array("GIF89a and more".utf8), to: "x.png"), mentioning: "GIF")
        expectHeaderError(.unreadable, path: dir.file("missing.jpg"))
        expectHeaderError(.unreadable, path: dir.path, mentioning: "directory")
    }

    func expectHeaderError(
        _ kind: ImageError.Kind, path: String, mentioning text: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            let h = try ImageDecoder.header(path: path)
            Issue.record("read \(h) instead of throwing", sourceLocation: sourceLocation)
        } catch let e as ImageError {
            #expect(e.kind == kind, "\(e)", sourceLocation: sourceLocation)
            #expect(e.name == path && e.description.hasPrefix(path + ": "), "\(e)", sourceLocation: sourceLocation)
            if let text { #expect(e.description.contains(text), "\(e)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }
}
