import StrataModels
import StrataNN
import Testing

/// Parameter counts of torchvision's models and the papers' CIFAR nets (issue #3's list).
@Suite struct ParameterCountTests {
    static let expected: [(String, Int?, Int)] = [
        ("alexnet", nil, 61_100_840), ("vgg11", nil, 132_863_336), ("vgg11_bn", nil, 132_868_840),
        ("vgg13", nil, 133_047_848), ("vgg13_bn", nil, 133_053_736), ("vgg16", nil, 138_357_544),
        ("vgg16_bn", nil, 138_365_992), ("vgg19", nil, 143_667_240), ("vgg19_bn", nil, 143_678_248),
        ("googlenet", nil, 13_004_888), ("inception_v3", nil, 27_161_264),
        ("resnet18", nil, 11_689_512), ("resnet34", nil, 21_797_672), ("resnet50", nil, 25_557_032),
        ("resnet101", nil, 44_549_160), ("resnet152", nil, 60_192_808),
        ("densenet121", nil, 7_978_856), ("densenet161", nil, 28_681_000), ("densenet169", nil, 14_149_480),
        ("densenet201", nil, 20_013_928),
        ("resnet20", 10, 269_722), ("resnet56", 10, 853_018), ("densenet_bc_100", 10, 769_162),
    ]

    @Test(arguments: expected.map { $0.0 })
    func matchesReference(_ name: String) throws {
        let (_, classes, count) = Self.expected.first { $0.0 == name }!
        let model = try Init.withoutInitialization { try Models.make(name, classes: classes) }
        #expect(model.parameterCount == count, "\(name)")
    }

    @Test func googlenetWithoutAuxiliaryHeads() {
        #expect(Init.withoutInitialization { GoogLeNet(auxiliaryClassifiers: false) }.parameterCount == 6_624_904)
    }

    @Test func resnet110IsAboutOnePointSevenMillion() throws {
        let n = try Init.withoutInitialization { try Models.make("resnet110") }.parameterCount
        #expect(n > 1_700_000 && n < 1_750_000)
    }
}
