import Dispatch
import StrataData
import StrataTensor
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The committed decoder fixtures (Tests/StrataImageTests/Fixtures), copied into folder trees.
let imageFixtures = testsFolder() + "/../StrataImageTests/Fixtures"

func imageFixture(_ name: String) -> [UInt8] {
    let bytes = readBytes(imageFixtures + "/" + name)
    precondition(!bytes.isEmpty, "missing fixture \(imageFixtures)/\(name)")
    return bytes
}

/// root/Zebra/big.png, root/cat/{a.png, b.JPG, c.jpeg, notes.txt}, root/dog/{A.PNG, z.png, sub/y.jpg}, root/stray.jpg
func makeImageTree(_ t: TempFolder) -> String {
    let root = t.folder("root")
    t.folder("root/Zebra")
    t.write("root/Zebra/big.png", imageFixture("big_rgb.png")) // 300×260 RGB
    t.folder("root/cat")
    t.write("root/cat/a.png", imageFixture("rgb_7x5.png"))
    t.write("root/cat/b.JPG", imageFixture("rgb420_19x13.jpg"))
    t.write("root/cat/c.jpeg", imageFixture("gray_10x7.jpg")) // grayscale → RGB
    t.write("root/cat/notes.txt", text: "not an image")
    t.folder("root/dog")
    t.write("root/dog/z.png", imageFixture("palette_6x5.png"))
    t.write("root/dog/A.PNG", imageFixture("rgba_5x3.png"))
    t.folder("root/dog/sub")
    t.write("root/dog/sub/y.jpg", imageFixture("rgb444_16x16.jpg"))
    t.write("root/stray.jpg", imageFixture("rgb444_16x16.jpg")) // not in a class folder: ignored
    return root
}

@Suite struct ImageFolderTests {
    @Test func classesFilesLabelsAndShapes() throws {
        let t = TempFolder()
        let root = makeImageTree(t)
        let d = try ImageFolder(root: root)
        // Sorted by code point, as torchvision: upper case first.
        #expect(d.classNames == ["Zebra", "cat", "dog"])
        #expect(d.classToIndex == ["Zebra": 0, "cat": 1, "dog": 2])
        // os.walk order: a folder's own files (sorted) before its subfolders'.
        #expect(
            (0..<d.count).map(d.relativePath) == [
                "Zebra/big.png", "cat/a.png", "cat/b.JPG", "cat/c.jpeg", "dog/A.PNG", "dog/z.png", "dog/sub/y.jpg",
            ])
        #expect(d.paths[1] == root + "/cat/a.png")
        #expect(d.labels == [0, 1, 1, 1, 2, 2, 2])
        #expect((0..<d.count).map(d.label) == d.labels)
        #expect(d.labelCounts() == [1, 3, 3])
        #expect(
            (0..<d.count).map(d.shape(of:)) == [
                [3, 260, 300], [3, 5, 7], [3, 13, 19], [3, 7, 10], [3, 3, 5], [3, 5, 6], [3, 16, 16],
            ])
        #expect(d.imageShape == [3, 260, 300])
        #expect(d.size(of: 2) == (width: 19, height: 13))
        #expect(d.skipped.isEmpty)

        // Decoded pixels: RGB, CHW, value / 255.
        for i in 0..<d.count {
            let (pixels, label) = example(d, i)
            #expect(label == d.labels[i])
            let img = try d.image(i)
            #expect(img.channels == 3 && [3, img.height, img.width] == d.shape(of: i))
            let plane = img.width * img.height
            var expected = [Float](repeating: 0, count: 3 * plane)
            for p in 0..<plane { for c in 0..<3 { expected[c * plane + p] = Float(img.pixels[p * 3 + c]) / 255 } }
            #expect(pixels == expected, "example \(i)")
        }
        // The grayscale JPEG has three equal planes.
        let (gray, _) = example(d, 3)
        #expect(gray[0..<70] == gray[70..<140] && gray[0..<70] == gray[140..<210])
        #expect(d.decodeFailures.isEmpty)

        // channels: 1 converts to grayscale.
        let g = try ImageFolder(root: root, channels: 1)
        #expect(g.shape(of: 2) == [1, 13, 19] && example(g, 2).pixels.count == 13 * 19)
    }

    /// Variable-size examples through the ImageNet evaluation transform, in parallel and prefetched.
    @Test func batchesThroughImageNetEvaluation() throws {
        let t = TempFolder()
        let d = try ImageFolder(root: makeImageTree(t))
        let transform = ImageTransform.imageNetEvaluation(resize: 36, size: 32)
        let loader = BatchLoader(d, batchSize: 7, transform: transform)
        #expect(loader.imageShape == [3, 32, 32])
        let batch = loader.batch(0)
        #expect(batch.images.shape == [7, 3, 32, 32])
        #expect(batch.labels == [0, 1, 1, 1, 2, 2, 2])
        let values = floats(batch.images)
        let per = 3 * 32 * 32
        for i in 0..<d.count {
            var g = RandomGenerator(seed: 0)
            let (pixels, _) = example(d, i)
            let (want, shape) = transform.apply(pixels, shape: d.shape(of: i), generator: &g)
            #expect(shape == [3, 32, 32])
            #expect(Array(values[(i * per)..<((i + 1) * per)]) == want, "example \(i)")
        }
        #expect(values.allSatisfy { $0.isFinite })
        // Training augmentation, prefetched on background threads: the same batches as built in place.
        let train = BatchLoader(d, batchSize: 3, shuffleSeed: 5, transform: .imageNetTraining(size: 24))
        let direct = (0..<train.batchCount).map { floats(train.batch($0).images) }
        let prefetched = Array(train.prefetching(workers: 2)).map { floats($0.images) }
        #expect(direct == prefetched)
        #expect(train.batch(0).images.shape == [3, 3, 24, 24])
        #expect(d.decodeFailures.isEmpty)
    }

    @Test func missingOrEmptyFolders() throws {
        let t = TempFolder()
        do {
            _ = try ImageFolder(root: t.url("nowhere"))
            Issue.record("no error for a missing folder")
        } catch let e as DatasetNotFoundError {
            #expect(
                !e.directoryExists && e.description.contains(t.url("nowhere"))
                    && e.description.contains("does not exist"), "\(e)")
            #expect(e.description.contains("one folder per class"), "\(e)")
        }
        // Images but no class folders.
        let flat = t.folder("flat")
        t.write("flat/a.png", imageFixture("rgb_7x5.png"))
        do {
            _ = try ImageFolder(root: flat)
            Issue.record("no error for a folder without class folders")
        } catch let e as DatasetNotFoundError {
            #expect(
                e.directoryExists && e.description.contains("class folders") && e.description.contains("1 image file"),
                "\(e)")
        }
        // A class folder with no image files.
        let partly = t.folder("partly")
        t.folder("partly/cat")
        t.write("partly/cat/a.png", imageFixture("rgb_7x5.png"))
        t.folder("partly/dog")
        t.write("partly/dog/readme.txt", text: "no images here")
        do {
            _ = try ImageFolder(root: partly)
            Issue.record("no error for an empty class")
        } catch let e as DatasetNotFoundError {
            #expect(e.description.contains("class folder dog") && e.description.contains(".jpg, .jpeg or .png"), "\(e)")
        }
        // A file instead of a folder.
        let file = t.write("file.png", imageFixture("rgb_7x5.png"))
        #expect(throws: FileFormatError.self) { try ImageFolder(root: file) }
    }

    /// Files whose header cannot be read: init throws naming the first, or skips them when asked.
    @Test func corruptFiles() throws {
        let t = TempFolder()
        let root = makeImageTree(t)
        t.write("root/cat/broken.jpg", Array(imageFixture("rgb444_16x16.jpg").prefix(60))) // ends inside the header
        t.write("root/dog/fake.png", text: "hello, not a PNG")
        do {
            _ = try ImageFolder(root: root)
            Issue.record("no error for corrupt files")
        } catch let e as UnreadableImagesError {
            #expect(e.path == root + "/cat/broken.jpg")
            #expect(e.failures.map(\.kind) == [.truncated, .unsupportedFormat])
            #expect(e.fileCount == 9)
            let text = e.description
            #expect(text.contains("2 of 9") && text.contains(root + "/cat/broken.jpg: truncated JPEG"), "\(text)")
            #expect(text.contains("dog/fake.png") && text.contains("skipCorrupt: true"), "\(text)")
        }

        var warnings: [String] = []
        let d = try ImageFolder(root: root, skipCorrupt: true, warn: { warnings.append($0) })
        #expect(d.count == 7)
        #expect(d.labels == [0, 1, 1, 1, 2, 2, 2])
        #expect(!(0..<d.count).map(d.relativePath).contains { $0.contains("broken") || $0.contains("fake") })
        #expect(d.skipped.map(\.name) == [root + "/cat/broken.jpg", root + "/dog/fake.png"])
        #expect(warnings.count == 1)
        let w = warnings.first ?? ""
        #expect(
            w.hasPrefix("warning: ") && w.contains("skipped 2 of 9") && w.contains("cat/broken.jpg (truncated JPEG")
                && w.contains("dog/fake.png (not a JPEG or PNG"), "\(w)")

        // A class left without images is kept (labels stay torchvision's) and named in the warning.
        let lone = t.folder("lone")
        t.folder("lone/a")
        t.write("lone/a/ok.png", imageFixture("rgb_7x5.png"))
        t.folder("lone/b")
        t.write("lone/b/bad.png", [])
        warnings = []
        let l = try ImageFolder(root: lone, skipCorrupt: true, warn: { warnings.append($0) })
        #expect(l.classNames == ["a", "b"] && l.count == 1 && l.labelCounts() == [1, 0])
        #expect(warnings.first?.contains("No image is left in class b") == true, "\(warnings)")

        // Nothing readable at all: an error even when skipping.
        let none = t.folder("none")
        t.folder("none/a")
        t.write("none/a/x.jpg", [0xFF, 0xD8, 0xFF])
        #expect(throws: UnreadableImagesError.self) { try ImageFolder(root: none, skipCorrupt: true, warn: { _ in }) }
    }

    /// The shared CIFAR-10 sample JPEGs (when present), linked into class folders: symbolic
    /// links are followed, and the images load at 32×32.
    @Test(
        .enabled(
            if: fileExists(sharedDataFolder + "/photos/cifar10-test-samples/cat_0000.jpg"),
            "needs <package root>/../shared/data/photos"))
    func sharedSamplesThroughLinks() throws {
        let t = TempFolder()
        let root = t.folder("samples")
        let source = sharedDataFolder + "/photos/cifar10-test-samples"
        var links: [String] = []
        defer { for l in links { unlinkFile(l) } }
        let classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        for c in classes {
            t.folder("samples/" + c)
            for k in 0..<2 {
                let name = "\(c)_000\(k).jpg"
                let link = t.url("samples/\(c)/\(name)")
                #expect(symlink(source + "/" + name, link) == 0)
                links.append(link)
            }
        }
        let d = try ImageFolder(root: root)
        #expect(d.classNames == classes && d.count == 20 && d.labelCounts() == [Int](repeating: 2, count: 10))
        #expect((0..<d.count).allSatisfy { d.shape(of: $0) == [3, 32, 32] } && d.imageShape == [3, 32, 32])
        let batch = BatchLoader(d, batchSize: 20).batch(0) // equal sizes: no transform needed
        #expect(batch.images.shape == [20, 3, 32, 32] && batch.labels == d.labels)
        #expect(floats(batch.images).contains { $0 > 0 } && d.decodeFailures.isEmpty)
    }

    /// A file whose header is valid but whose data is damaged: zeros, recorded once in decodeFailures.
    @Test func decodeFailuresAfterValidHeader() throws {
        let t = TempFolder()
        let root = makeImageTree(t)
        let jpeg = imageFixture("rgb444_16x16.jpg")
        t.write("root/cat/late.jpg", Array(jpeg.prefix(jpeg.count - 200))) // cut inside the image data
        let d = try ImageFolder(root: root)
        let i = try #require((0..<d.count).first { d.relativePath($0) == "cat/late.jpg" })
        #expect(d.shape(of: i) == [3, 16, 16])
        #expect(d.decodeFailures.isEmpty)
        // Loaded from many threads at once (as loader workers do).
        DispatchQueue.concurrentPerform(iterations: 32) { k in
            var p = [Float](repeating: 1, count: d.shape(of: k % d.count).reduce(1, *))
            let label = p.withUnsafeMutableBufferPointer { d.load(k % d.count, into: $0) }
            precondition(label == d.labels[k % d.count])
        }
        let (pixels, label) = example(d, i)
        #expect(label == 1 && pixels.count == 3 * 16 * 16 && pixels.allSatisfy { $0 == 0 })
        let failures = d.decodeFailures
        #expect(failures.count == 1)
        #expect(failures.first?.index == i && failures.first?.path == root + "/cat/late.jpg")
        #expect(failures.first?.error.kind == .truncated, "\(failures)")
        #expect(throws: ImageError.self) { try d.image(i) }
        // Through a loader: the batch is still built.
        let batch = BatchLoader(d, batchSize: d.count, transform: .imageNetEvaluation(resize: 36, size: 32)).batch(0)
        #expect(batch.images.shape == [d.count, 3, 32, 32])
        #expect(d.decodeFailures.count == 1)
    }
}
