import StrataData
import StrataTensor
import Testing

/// The real datasets in `<package root>/../shared/data` (see its README); skipped when absent.
let cifar10Folder = sharedDataFolder + "/cifar10"
let mnistFolder = sharedDataFolder + "/mnist"
let hasCIFAR10 = fileExists(cifar10Folder + "/data_batch_1.bin") && fileExists(cifar10Folder + "/test_batch.bin")
let hasMNIST = fileExists(mnistFolder + "/train-images-idx3-ubyte.gz")

@Suite struct RealDataTests {
    @Test(.enabled(if: hasCIFAR10, "needs ../shared/data/cifar10")) func cifar10PublishedCounts() throws {
        let train = try CIFAR10(directory: cifar10Folder, split: .train)
        #expect(train.count == 50_000)
        #expect(train.classNames == CIFAR10.defaultClassNames)
        let batch1 = Subset(train, indices: Array(0..<10_000))
        #expect(batch1.labelCounts() == [1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981])
        #expect(Array(train.labels.prefix(20)) == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3, 4, 7, 7, 2, 9, 9, 9, 3, 2, 6])
        #expect(train.labelCounts() == [Int](repeating: 5000, count: 10))
        let test = try CIFAR10(directory: cifar10Folder, split: .test)
        #expect(test.count == 10_000 && test.labelCounts() == [Int](repeating: 1000, count: 10))
        // He et al.'s 45k/5k split: the last 5,000 training images.
        let split = TrainValidationSplit(train)
        #expect(
            split.train.count == 45_000 && split.validation.count == 5_000 && split.validation.indices.first == 45_000)
        // Pixels are in [0, 1] and not constant.
        let (pixels, label) = example(train, 0)
        #expect(label == 6 && pixels.allSatisfy { $0 >= 0 && $0 <= 1 } && Set(pixels).count > 50)
    }

    @Test(.enabled(if: hasMNIST, "needs ../shared/data/mnist")) func mnistPublishedCounts() throws {
        let train = try MNIST(directory: mnistFolder, split: .train)
        #expect(train.count == 60_000 && train.imageShape == [1, 28, 28])
        #expect(train.labelCounts() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
        let test = try MNIST(directory: mnistFolder, split: .test)
        #expect(test.labelCounts() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
        // t10k image 0 is a 7.
        #expect(test.labels.prefix(4) == [7, 2, 1, 0])
    }
}
