import StrataData
import Testing

@Suite struct CIFARFormatTests {
    /// Five 2-record training batches and a 3-record test batch.
    static let trainLabels: [[UInt8]] = [[6, 9], [9, 4], [1, 1], [2, 7], [8, 3]]
    static let testLabels: [UInt8] = [0, 5, 9]

    func writeCIFAR10(
        _ dir: TempFolder, names: String? = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"
    ) {
        for f in 0..<5 {
            dir.write("data_batch_\(f + 1).bin", cifarRecords(file: f, labels: Self.trainLabels[f].map { [$0] }))
        }
        dir.write("test_batch.bin", cifarRecords(file: 9, labels: Self.testLabels.map { [$0] }))
        if let names { dir.write("batches.meta.txt", text: names) }
    }

    @Test func cifar10ValuesAndLabelsExact() throws {
        let dir = TempFolder()
        writeCIFAR10(dir)
        let train = try CIFAR10(directory: dir.path, split: .train)
        #expect(train.count == 10)
        #expect(train.imageShape == [3, 32, 32])
        #expect(train.labels == Self.trainLabels.flatMap { $0.map(Int.init) })
        #expect(train.classNames.count == 10 && train.classNames[9] == "truck")
        for i in [0, 1, 4, 9] {
            let (pixels, label) = example(train, i)
            #expect(label == Int(Self.trainLabels[i / 2][i % 2]))
            let expected = (0..<3072).map { Float(cifarPixel(file: i / 2, record: i % 2, $0)) / 255 }
            #expect(pixels == expected, "example \(i)")
        }
        let test = try CIFAR10(directory: dir.path, split: .test)
        #expect(test.count == 3 && test.labels == [0, 5, 9])
        #expect(example(test, 2).pixels[3071] == Float(cifarPixel(file: 9, record: 2, 3071)) / 255)
        #expect(test.labelCounts() == [1, 0, 0, 0, 0, 1, 0, 0, 0, 1])
    }

    @Test func cifar10FindsTheArchiveSubfolderAndDefaultsClassNames() throws {
        let root = TempFolder()
        root.folder("cifar-10-batches-bin")
        for f in 0..<5 {
            root.write("cifar-10-batches-bin/data_batch_\(f + 1).bin", cifarRecords(file: f, labels: [[UInt8(f)]]))
        }
        let train = try CIFAR10(directory: root.path, split: .train)
        #expect(train.labels == [0, 1, 2, 3, 4])
        #expect(train.classNames == CIFAR10.defaultClassNames)
        #expect(train.directory.hasSuffix("cifar-10-batches-bin"))
    }

    @Test func missingCIFAR10NamesTheFilesAndTheSource() throws {
        let dir = TempFolder()
        let nowhere = dir.url("no-such-folder")
        do {
            _ = try CIFAR10(directory: nowhere, split: .train)
            Issue.record("no error")
        } catch let e as DatasetNotFoundError {
            let text = e.description
            #expect(text.contains("CIFAR-10 not found in \(nowhere)"))
            for f in ["data_batch_1.bin", "data_batch_5.bin", "test_batch.bin"] { #expect(text.contains(f), "\(text)") }
            #expect(text.contains("https://www.cs.toronto.edu/~kriz/cifar.html"))
            #expect(text.contains("binary version"))
            #expect(!e.directoryExists)
        }
        // Train files present, test file missing: the train split loads, the test split names the missing file.
        writeCIFAR10(dir)
        unlinkFile(dir.url("test_batch.bin"))
        _ = try CIFAR10(directory: dir.path, split: .train)
        #expect(throws: DatasetNotFoundError.self) { try CIFAR10(directory: dir.path, split: .test) }
        do {
            _ = try CIFAR10(directory: dir.path, split: .test)
        } catch let e as DatasetNotFoundError {
            #expect(e.missingFiles == ["test_batch.bin"] && e.directoryExists)
            #expect(e.description.contains("missing test_batch.bin"))
        }
    }

    @Test func truncatedCIFARBatchNamesFileAndOffset() throws {
        let dir = TempFolder()
        writeCIFAR10(dir)
        let full = cifarRecords(file: 2, labels: [[1], [2]])
        dir.write("data_batch_3.bin", Array(full.prefix(3073 + 1000)))
        expectFormatError(file: "data_batch_3.bin", offset: 3073, contains: "3073") {
            _ = try CIFAR10(directory: dir.path, split: .train)
        }
        dir.write("data_batch_3.bin", [])
        expectFormatError(file: "data_batch_3.bin", offset: 0, contains: "empty") {
            _ = try CIFAR10(directory: dir.path, split: .train)
        }
    }

    @Test func cifarLabelOutOfRange() throws {
        let dir = TempFolder()
        writeCIFAR10(dir)
        dir.write("test_batch.bin", cifarRecords(file: 9, labels: [[0], [3], [10]]))
        expectFormatError(file: "test_batch.bin", offset: 2 * 3073, contains: "label 10") {
            _ = try CIFAR10(directory: dir.path, split: .test)
        }
    }

    @Test func cifarClassNamesFileMustHaveTenNames() throws {
        let dir = TempFolder()
        writeCIFAR10(dir, names: "cat\n\ndog\n")
        expectFormatError(file: "batches.meta.txt", contains: "2 class names") {
            _ = try CIFAR10(directory: dir.path, split: .test)
        }
    }

    @Test func cifar100FineAndCoarseLabels() throws {
        let dir = TempFolder()
        dir.write("train.bin", cifarRecords(file: 1, labels: [[11, 99], [0, 0], [19, 42]]))
        dir.write("test.bin", cifarRecords(file: 2, labels: [[4, 7]]))
        let fineNames = (0..<100).map { "fine\($0)" }.joined(separator: "\n") + "\n"
        dir.write("fine_label_names.txt", text: fineNames)
        let fine = try CIFAR100(directory: dir.path, split: .train)
        #expect(fine.count == 3 && fine.labels == [99, 0, 42] && fine.coarseLabels == [11, 0, 19])
        #expect(fine.classNames.count == 100 && fine.classNames[42] == "fine42")
        #expect(fine.coarseClassNames == CIFAR100.defaultCoarseClassNames)
        let (pixels, label) = example(fine, 2)
        #expect(label == 42)
        #expect(pixels == (0..<3072).map { Float(cifarPixel(file: 1, record: 2, $0)) / 255 })
        let coarse = try CIFAR100(directory: dir.path, split: .test, labels: .coarse)
        #expect(coarse.labels == [4] && coarse.classNames.count == 20 && example(coarse, 0).label == 4)
        #expect(CIFAR100.defaultFineClassNames.count == 100 && Set(CIFAR100.defaultFineClassNames).count == 100)
    }

    @Test func cifar100BadInput() throws {
        let dir = TempFolder()
        dir.write("train.bin", cifarRecords(file: 1, labels: [[1, 2], [20, 3]]))
        expectFormatError(file: "train.bin", offset: 3074, contains: "coarse label 20") {
            _ = try CIFAR100(directory: dir.path, split: .train)
        }
        dir.write("train.bin", cifarRecords(file: 1, labels: [[1, 2], [2, 3], [3, 100]]))
        expectFormatError(file: "train.bin", offset: 2 * 3074 + 1, contains: "fine label 100") {
            _ = try CIFAR100(directory: dir.path, split: .train)
        }
        // A CIFAR-10 file read as CIFAR-100: 3 records of 3073 bytes are not a whole number of 3074-byte records.
        dir.write("train.bin", cifarRecords(file: 1, labels: [[1], [2], [3]]))
        expectFormatError(file: "train.bin", offset: 2 * 3074) {
            _ = try CIFAR100(directory: dir.path, split: .train)
        }
        do {
            _ = try CIFAR100(directory: dir.path, split: .test)
            Issue.record("no error")
        } catch let e as DatasetNotFoundError {
            #expect(
                e.description.contains("CIFAR-100 not found") && e.description.contains("test.bin")
                    && e.description.contains("cifar.html"))
        }
    }
}

@Suite struct MNISTFormatTests {
    static let fixture = testsFolder() + "/Fixtures/mnist-tiny"
    static func pixel(_ i: Int, _ k: Int) -> UInt8 { UInt8((i * 61 + k * 29 + 7) % 256) }

    @Test func gzippedAndPlainFixture() throws {
        // Train files are gzip (made by Python's gzip, real deflate), test files are plain IDX.
        let train = try MNIST(directory: Self.fixture, split: .train)
        #expect(train.count == 6 && train.imageShape == [1, 28, 28])
        #expect(train.labels == [3, 1, 4, 1, 5, 9])
        #expect(train.imagesPath.hasSuffix(".gz"))
        for i in 0..<6 {
            #expect(example(train, i).pixels == (0..<784).map { Float(Self.pixel(i, $0)) / 255 })
        }
        let test = try MNIST(directory: Self.fixture, split: .test)
        #expect(test.labels == [2, 6, 0] && !test.imagesPath.hasSuffix(".gz"))
        #expect(example(test, 2).pixels == (0..<784).map { Float(Self.pixel(2, $0)) / 255 })
        #expect(test.classNames == MNIST.digitClassNames)
    }

    @Test func idxWrittenByTheTestsPlainAndStoredGzip() throws {
        let dir = TempFolder()
        let images = idxImages(count: 3, rows: 2, cols: 3) { i, k in UInt8(i * 10 + k) }
        dir.write("t10k-images-idx3-ubyte.gz", gzipStored(images))
        dir.write("t10k-labels-idx1-ubyte", idxLabels([7, 0, 9]))
        let test = try MNIST(directory: dir.path, split: .test)
        #expect(test.imageShape == [1, 2, 3] && test.labels == [7, 0, 9])
        #expect(example(test, 1).pixels == (0..<6).map { Float(10 + $0) / 255 })
        // Two concatenated gzip members decode to the concatenation.
        dir.write("t10k-labels-idx1-ubyte", [])
        let labels = idxLabels([1, 2, 3])
        dir.write(
            "t10k-labels-idx1-ubyte", gzipStored(Array(labels.prefix(5))) + gzipStored(Array(labels.dropFirst(5))))
        #expect(try MNIST(directory: dir.path, split: .test).labels == [1, 2, 3])
    }

    @Test func missingMNISTNamesTheFiles() throws {
        let dir = TempFolder()
        dir.write("train-images-idx3-ubyte", idxImages(count: 1, rows: 1, cols: 1) { _, _ in 0 })
        do {
            _ = try MNIST(directory: dir.path, split: .train)
            Issue.record("no error")
        } catch let e as DatasetNotFoundError {
            #expect(e.missingFiles == ["train-labels-idx1-ubyte[.gz]"])
            for f in ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "yann.lecun.com"] {
                #expect(e.description.contains(f), "\(e)")
            }
        }
    }

    func folder(images: [UInt8], labels: [UInt8], gz: Bool = false) -> TempFolder {
        let dir = TempFolder()
        dir.write("train-images-idx3-ubyte" + (gz ? ".gz" : ""), images)
        dir.write("train-labels-idx1-ubyte", labels)
        return dir
    }

    @Test func badMagicNumber() throws {
        let images = idxImages(count: 2, rows: 2, cols: 2) { _, _ in 1 }
        // Labels and images swapped.
        var dir = folder(images: idxLabels([1, 2]), labels: idxLabels([1, 2]))
        expectFormatError(file: "train-images-idx3-ubyte", offset: 0, contains: "magic number 2049") {
            _ = try MNIST(directory: dir.path, split: .train)
        }
        dir = folder(images: images, labels: images)
        expectFormatError(file: "train-labels-idx1-ubyte", offset: 0, contains: "2051") {
            _ = try MNIST(directory: dir.path, split: .train)
        }
        dir = folder(images: [0, 0, 8], labels: idxLabels([1]))
        expectFormatError(file: "train-images-idx3-ubyte", offset: 0, contains: "too short") {
            _ = try MNIST(directory: dir.path, split: .train)
        }
    }

    @Test func dimensionsDisagreeingWithFileSize() throws {
        let images = idxImages(count: 3, rows: 4, cols: 4) { _, k in UInt8(k) }
        var dir = folder(images: Array(images.dropLast(5)), labels: idxLabels([1, 2, 3]))
        expectFormatError(file: "train-images-idx3-ubyte", offset: 4, contains: "3 × 4 × 4") {
            _ = try MNIST(directory: dir.path, split: .train)
        }
        dir = folder(images: images + [0], labels: idxLabels([1, 2, 3]))
        expectFormatError(file: "train-images-idx3-ubyte", offset: 4) {
            _ = try MNIST(directory: dir.path, split: .train)
        }
        // Header truncated inside the dimensions.
        dir = folder(images: Array(images.prefix(10)), labels: idxLabels([1, 2, 3]))
        expectFormatError(file: "train-images-idx3-ubyte", offset: 10, contains: "header") {
            _ = try MNIST(directory: dir.path, split: .train)
        }
        // Huge dimensions: an error, not an allocation or an overflow trap.
        let huge =
            bigEndian32(2051) + bigEndian32(0xFFFF_FFFF) + bigEndian32(0xFFFF_FFFF) + bigEndian32(0xFFFF_FFFF) + [
                1, 2, 3,
            ]
        dir = folder(images: huge, labels: idxLabels([1]))
        expectFormatError(file: "train-images-idx3-ubyte", offset: 4, contains: "4294967295 × 4294967295") {
            _ = try MNIST(directory: dir.path, split: .train)
        }
        // Label count disagreeing with the image count.
        dir = folder(images: images, labels: idxLabels([1, 2]))
        expectFormatError(file: "train-labels-idx1-ubyte", offset: 4, contains: "2 labels") {
            _ = try MNIST(directory: dir.path, split: .train)
        }
    }

    @Test func labelOutOfRange() throws {
        let images = idxImages(count: 3, rows: 1, cols: 1) { _, _ in 0 }
        let dir = folder(images: images, labels: idxLabels([1, 12, 3]))
        expectFormatError(file: "train-labels-idx1-ubyte", offset: 9, contains: "label 12") {
            _ = try MNIST(directory: dir.path, split: .train)
        }
        // Fashion-MNIST style names: still 10 classes.
        let ok = folder(images: images, labels: idxLabels([1, 9, 3]))
        #expect(
            try MNIST(directory: ok.path, split: .train, classNames: MNIST.fashionClassNames).classNames[9]
                == "Ankle boot")
    }

    /// A gzip bomb: a header for 4 images of 8×8 followed by megabytes of data. Decompression stops at the
    /// first chunk past the 272 bytes the header describes instead of inflating it all first.
    @Test func gzipThatInflatesPastItsHeaderStopsEarly() throws {
        let header = Array(idxImages(count: 4, rows: 8, cols: 8) { _, _ in 0 }.prefix(16))
        let dir = folder(
            images: gzipStored(header + [UInt8](repeating: 0, count: 3 << 20)), labels: idxLabels([1, 2, 3, 4]),
            gz: true)
        let e = expectFormatError(file: "train-images-idx3-ubyte.gz", contains: "more than 272 decompressed bytes") {
            _ = try MNIST(directory: dir.path, split: .train)
        }
        #expect(e?.description.contains("stopped at 1048576") == true, "\(String(describing: e))")
    }

    @Test func corruptAndTruncatedGzip() throws {
        let images = idxImages(count: 4, rows: 8, cols: 8) { i, k in UInt8((i * 3 + k) % 256) }
        let gz = gzipStored(images)
        // A flipped data byte: the CRC-32 check fails.
        var corrupt = gz
        corrupt[40] ^= 0xFF
        var dir = folder(images: corrupt, labels: idxLabels([1, 2, 3, 4]), gz: true)
        let e = expectFormatError(file: "train-images-idx3-ubyte.gz", contains: "corrupt gzip") {
            _ = try MNIST(directory: dir.path, split: .train)
        }
        #expect(e?.offset != nil)
        // Real deflate data with a byte destroyed in the middle.
        var fixture = readBytes(MNISTFormatTests.fixture + "/train-images-idx3-ubyte.gz")
        #expect(fixture.count > 100)
        for k in 20..<40 { fixture[k] = 0xFF }
        dir = folder(images: fixture, labels: idxLabels([1, 2, 3, 4, 5, 6]), gz: true)
        let e2 = expectFormatError(file: "train-images-idx3-ubyte.gz", contains: "gzip") {
            _ = try MNIST(directory: dir.path, split: .train)
        }
        #expect((e2?.offset ?? -1) >= 10)
        // Truncated: the offset is the end of the file.
        dir = folder(images: Array(gz.prefix(gz.count - 30)), labels: idxLabels([1, 2, 3, 4]), gz: true)
        expectFormatError(file: "train-images-idx3-ubyte.gz", offset: gz.count - 30, contains: "ends early") {
            _ = try MNIST(directory: dir.path, split: .train)
        }
        // A .gz name on a file that is not gzip.
        dir = folder(images: images, labels: idxLabels([1, 2, 3, 4]), gz: true)
        expectFormatError(file: "train-images-idx3-ubyte.gz", offset: 0, contains: "1f 8b") {
            _ = try MNIST(directory: dir.path, split: .train)
        }
        // Trailing garbage after the gzip member.
        dir = folder(images: gz + [1, 2, 3], labels: idxLabels([1, 2, 3, 4]), gz: true)
        expectFormatError(file: "train-images-idx3-ubyte.gz", offset: gz.count, contains: "trailing") {
            _ = try MNIST(directory: dir.path, split: .train)
        }
    }
}

@Suite struct SplitTests {
    @Test func heldOutTailIsDeterministic() {
        let d = SyntheticShapes(count: 50, seed: 1)
        let split = TrainValidationSplit(d, validationCount: 5)
        #expect(split.train.indices == Array(0..<45) && split.validation.indices == Array(45..<50))
        #expect(split.validation.label(0) == d.label(45))
        #expect(example(split.validation, 1).pixels == example(d, 46).pixels)
        #expect(TrainValidationSplit.heValidationCount == 5_000)
    }

    @Test func seededSplitIsAPartition() {
        let d = SyntheticShapes(count: 100, seed: 1)
        let a = TrainValidationSplit(d, validationCount: 20, shuffleSeed: 7)
        let b = TrainValidationSplit(d, validationCount: 20, shuffleSeed: 7)
        #expect(a.validation.indices == b.validation.indices)
        #expect(a.validation.count == 20 && a.train.count == 80)
        #expect(Set(a.train.indices).isDisjoint(with: a.validation.indices))
        #expect(Set(a.train.indices + a.validation.indices) == Set(0..<100))
        #expect(a.validation.indices == a.validation.indices.sorted())
        #expect(a.validation.indices != Array(80..<100))
    }
}
