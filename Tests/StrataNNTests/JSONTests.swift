import StrataNN
import Testing

/// The package's shared `JSON` (StrataNN, `package` access): the strict reader that both the
/// safetensors header and the training run files go through, and the writer's exact text.
@Suite struct JSONTests {
    @Test func writesKeysInOrderAndNumbersRoundTrip() throws {
        let value = JSON.object([
            ("z", .int(3)), ("a", .number(0.1)), ("m", .number(2)), ("n", .number(.nan)),
            ("s", .string("q\"\\\n\u{1}é")), ("l", JSON([1, 2])),
        ])
        let text = value.serialized()
        #expect(text == #"{"z":3,"a":0.1,"m":2.0,"n":null,"s":"q\"\\\n\u0001é","l":[1,2]}"#)
        let back = try JSON.parse(text)
        // NaN is written as null (JSON has no NaN), which reads back as a NaN double.
        #expect(back["n"] == .null && back["n"]?.doubleValue?.isNaN == true)
        #expect(back["s"] == value["s"] && back["l"] == value["l"] && back["z"] == .int(3))
        #expect(back["a"]?.doubleValue == 0.1)
        #expect(back["m"] == .number(2)) // "2.0" reads back as a Double, not an Int
        guard case .object(let items) = back else {
            Issue.record("not an object")
            return
        }
        #expect(items.map(\.0) == ["z", "a", "m", "n", "s", "l"])
        #expect(try JSON.parse(value.serialized(pretty: true)) == back)
    }

    @Test(arguments: [
        (#"{"a":1,"a":2}"#, 7, "duplicate key"),
        ("[" + String(repeating: "[", count: 100) + "]", 64, "nesting deeper than 64"),
        ("[99999999999999999999]", 1, "overflows 64 bits"),
        ("{} x", 3, "after the JSON value"),
        ("[01]", 2, "'1'"),
    ])
    func rejectsWithOffset(_ text: String, _ offset: Int, _ found: String) {
        #expect {
            _ = try JSON.parse(text)
        } throws: { error in
            guard let e = error as? JSON.SyntaxError else { return false }
            return e.offset == offset && e.found.contains(found)
        }
    }
}
