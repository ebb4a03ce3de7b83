import DeepSeekV3
import Foundation

/// tokenizer.json: load, then encode and decode a short mixed text (added tokens, CJK, digits).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    guard let tokenizer = try? BPETokenizer(tokenizerJSON: Data(bytes: data, count: count), file: "fuzz.json") else { return 0 }
    let ids = tokenizer.encode("Hello world 123 <think>混合 text\n\n  end")
    _ = tokenizer.decode(ids)
    _ = GGUFVocabulary(tokenizer, vocabularySize: tokenizer.tokens.count + 3)
    return 0
}
