import StrataData
import Testing

@Suite struct DatasetCatalogTests {
    @Test func syntheticNeedsNoFiles() throws {
        let d = try DatasetCatalog.load("synthetic", data: nil)
        #expect(d.train.count == 12_000 && d.validation.count == 2_000)
        #expect(d.train.imageShape == [1, 32, 32] && d.trainTransform == nil)
    }

    @Test func everyNamedDatasetIsLoadable() {
        // Each name in `all` reaches its own case: without --data the folder-based ones ask for it by name.
        for (name, _) in DatasetCatalog.all where name != "synthetic" {
            #expect { try DatasetCatalog.load(name, data: nil) } throws: {
                "\($0)" == "--dataset \(name) needs --data PATH (the dataset folder)"
            }
        }
    }

    @Test func unknownNameListsTheChoices() {
        #expect { try DatasetCatalog.load("imagenet21k", data: nil) } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("unknown --dataset 'imagenet21k'")
                && DatasetCatalog.all.allSatisfy { text.contains($0.name) }
        }
    }
}
