import Foundation
import StrataModels
import StrataNN
import StrataTensor
import StrataTestSupport
import Testing

/// GoogLeNet's two and Inception-v3's one auxiliary classifiers run in training mode only.
@Suite struct AuxiliaryClassifierTests {
    /// A model with the fixtures' deterministic weights (Float32): finite, unlike uninitialized ones.
    static func hashModel<M: Module>(_ make: () -> M) throws -> M {
        let m = Init.withoutInitialization(make)
        try HashWeights.fill(m.stateDict())
        return m
    }

    @Test func googlenetHasTwoInTrainingAndNoneInEval() throws {
        let model = try Self.hashModel { GoogLeNet(classes: 7) }
        let x = HashWeights.input([2, 3, 64, 64])
        model.train()
        let (logits, auxiliary) = withNoGrad { model.forwardWithAuxiliary(x) }
        #expect(logits.shape == [2, 7])
        #expect(auxiliary.map(\.shape) == [[2, 7], [2, 7]])
        #expect(auxiliary.allSatisfy { $0.floats.allSatisfy(\.isFinite) })
        model.eval()
        let evaluated = withNoGrad { model.forwardWithAuxiliary(x) }
        #expect(evaluated.logits.shape == [2, 7])
        #expect(evaluated.auxiliary.isEmpty)
    }

    @Test func googlenetWithoutHeadsHasNone() throws {
        let model = try Self.hashModel { GoogLeNet(classes: 7, auxiliaryClassifiers: false) }
        model.train()
        let out = withNoGrad { model.forwardWithAuxiliary(HashWeights.input([2, 3, 32, 32])) } // 1×1 after maxpool4
        #expect(out.logits.shape == [2, 7])
        #expect(out.auxiliary.isEmpty)
    }

    /// Inception-v3's head pools the 17×17 grid 5×5/3 to 5×5 and applies a 5×5 conv, so it
    /// needs the full 299×299 input (the smallest whose Mixed_6e grid is 17×17: at 298 it is
    /// 16×16 and the conv has nothing to cover) and two images (its batch norm then sees one
    /// value per channel and image). That forward takes minutes in a debug build, so it is a
    /// heavy test; the default run checks the head on a 17×17 grid and the gating at 75×75.
    @Test(.enabled(if: ParityTests.heavyEnabled, "set STRATA_HEAVY_TESTS=1 for the 299×299 training forward"))
    func inceptionV3HasOneInTraining() throws {
        let model = try Self.hashModel { InceptionV3(classes: 7) }
        model.train()
        let (logits, auxiliary) = withNoGrad { model.forwardWithAuxiliary(HashWeights.input([2, 3, 299, 299])) }
        #expect(logits.shape == [2, 7])
        #expect(auxiliary.map(\.shape) == [[2, 7]])
        #expect(auxiliary.allSatisfy { $0.floats.allSatisfy(\.isFinite) })
    }

    @Test func inceptionV3HeadMapsThe17x17GridToClasses() throws {
        let head = try Self.hashModel { InceptionV3Auxiliary(768, classes: 7) }
        head.train()
        let out = withNoGrad { head(HashWeights.input([2, 768, 17, 17])) }
        #expect(out.shape == [2, 7])
        #expect(out.floats.allSatisfy { $0.isFinite })
    }

    @Test func inceptionV3HasNoneInEval() throws {
        let model = try Self.hashModel { InceptionV3(classes: 7) }
        model.eval()
        let out = withNoGrad { model.forwardWithAuxiliary(HashWeights.input([1, 3, 75, 75])) }
        #expect(out.logits.shape == [1, 7])
        #expect(out.auxiliary.isEmpty)
    }

    @Test func inceptionV3WithoutHeadHasNoneInTraining() throws {
        let model = try Self.hashModel { InceptionV3(classes: 7, auxiliaryClassifier: false) }
        model.train()
        let out = withNoGrad { model.forwardWithAuxiliary(HashWeights.input([2, 3, 75, 75])) }
        #expect(out.logits.shape == [2, 7])
        #expect(out.auxiliary.isEmpty)
    }
}
