import Foundation

/// The tokenizer as llama.cpp's GGUF stores a `gpt2`-style (byte-level BPE) vocabulary, derived
/// from the one parsed `BPETokenizer` so that moepack has a single tokenizer model.
///
/// Rules follow llama.cpp's converter (`get_vocab_base`): one entry per id up to the config's
/// `vocab_size`; ids the tokenizer lacks become `[PAD{id}]` (UNUSED); added tokens that are special
/// or look special (`<|…|>`, `<｜…｜>`) are CONTROL; other added tokens are USER_DEFINED with `▁`
/// written as a space; everything else NORMAL.
package struct GGUFVocabulary: Sendable {
    /// `tokenizer.ggml.token_type` values.
    package enum TokenType: Int32, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    package var tokens: [String]
    package var tokenTypes: [TokenType]
    /// `tokenizer.ggml.merges`: "left right" strings in rank order.
    package var merges: [String]
    package var bosTokenId: Int?
    package var eosTokenId: Int?
    package var addBOS: Bool
    package var addEOS: Bool
    package var chatTemplate: String?
    /// `tokenizer.ggml.pre` for DeepSeek-V3's split patterns.
    package let preTokenizer = "deepseek-v3"
    package let model = "gpt2"

    package init(_ tokenizer: BPETokenizer, vocabularySize: Int) {
        var tokens: [String] = []
        var types: [TokenType] = []
        let added = Dictionary(uniqueKeysWithValues: tokenizer.addedTokens.map { ($0.id, $0) })
        for id in 0..<max(vocabularySize, tokenizer.vocabularySize) {
            if id >= tokenizer.vocabularySize || tokenizer.tokens[id].isEmpty {
                tokens.append("[PAD\(id)]")
                types.append(.unused)
            } else if let token = added[id] {
                let content = token.content
                let looksSpecial =
                    (content.hasPrefix("<|") && content.hasSuffix("|>")) || (content.hasPrefix("<｜") && content.hasSuffix("｜>"))
                if token.special || looksSpecial {
                    tokens.append(content)
                    types.append(.control)
                } else {
                    tokens.append(content.replacingOccurrences(of: "▁", with: " "))
                    types.append(.userDefined)
                }
            } else {
                tokens.append(tokenizer.tokens[id])
                types.append(.normal)
            }
        }
        self.tokens = tokens
        tokenTypes = types
        merges = tokenizer.merges.map { "\($0.0) \($0.1)" }
        bosTokenId = tokenizer.bosTokenId
        eosTokenId = tokenizer.eosTokenId
        addBOS = tokenizer.addBOS
        addEOS = tokenizer.addEOS
        chatTemplate = tokenizer.chatTemplate
    }
}
