import DeepSeekV3
import Foundation
import TensorFiles

/// A small byte-level BPE in the exact `tokenizer.json` shape of DeepSeek-V3's tokenizer: ids 0-2
/// are BOS, EOS and PAD; then the 256 byte symbols in GPT-2's byte-to-unicode order; then learned
/// merges; then added tokens. The pre-tokenizer, normalizer, post-processor and decoder are
/// DeepSeek-V3's own, so any code that handles this file handles the real one.
///
/// Merges are learned on `SyntheticCorpus` by plain BPE training (most frequent pair first, ties
/// to the lexicographically smallest pair), which is deterministic.
package struct SyntheticTokenizer: Sendable {
    package static let bos = "<｜begin▁of▁sentence｜>"
    package static let eos = "<｜end▁of▁sentence｜>"
    package static let pad = "<｜▁pad▁｜>"
    package static let addedTokens: [(String, special: Bool)] = [
        ("<｜place▁holder▁no▁0｜>", true), ("<｜place▁holder▁no▁1｜>", true),
        ("<｜fim▁hole｜>", false), ("<｜fim▁begin｜>", false), ("<｜fim▁end｜>", false),
        ("<｜User｜>", false), ("<｜Assistant｜>", false), ("<think>", false), ("</think>", false),
    ]

    package let vocabulary: [String]
    package let merges: [(String, String)]
    /// Ids of the added tokens, which follow the BPE vocabulary.
    package let addedTokenIds: [Int]

    package var tokenCount: Int { vocabulary.count + Self.addedTokens.count }

    package init(mergeCount: Int, corpus: String = SyntheticCorpus.text) {
        let byteSymbols = Self.byteToUnicode
        var vocabulary = [Self.bos, Self.eos, Self.pad] + Self.byteSymbolsInIdOrder
        var known = Set(vocabulary)

        // Words (pre-tokens) with counts, as sequences of byte symbols.
        var counts: [String: Int] = [:]
        for word in Self.roughPreTokens(corpus) { counts[word, default: 0] += 1 }
        var words: [(symbols: [String], count: Int)] = counts.keys.sorted().map { word in
            (Array(word.utf8).map { byteSymbols[Int($0)] }, counts[word]!)
        }

        var merges: [(String, String)] = []
        while merges.count < mergeCount {
            var pairCounts: [String: (pair: (String, String), count: Int)] = [:]
            for word in words where word.symbols.count > 1 {
                for i in 0..<(word.symbols.count - 1) {
                    let key = word.symbols[i] + " " + word.symbols[i + 1]
                    pairCounts[key, default: ((word.symbols[i], word.symbols[i + 1]), 0)].count += word.count
                }
            }
            let best = pairCounts.filter { $0.value.count >= 2 }.min { a, b in
                a.value.count != b.value.count ? a.value.count > b.value.count : a.key < b.key
            }
            guard let best else { break }
            let (left, right) = best.value.pair
            let merged = left + right
            merges.append((left, right))
            if known.insert(merged).inserted { vocabulary.append(merged) }
            for index in words.indices {
                var symbols = words[index].symbols
                var i = 0
                while i < symbols.count - 1 {
                    if symbols[i] == left && symbols[i + 1] == right {
                        symbols.replaceSubrange(i...(i + 1), with: [merged])
                    }
                    i += 1
                }
                words[index].symbols = symbols
            }
        }
        self.vocabulary = vocabulary
        self.merges = merges
        addedTokenIds = Array(vocabulary.count..<(vocabulary.count + Self.addedTokens.count))
    }

    // MARK: - Files

    /// `tokenizer.json` in the layout of DeepSeek-V3's file.
    package func tokenizerJSON() -> String {
        func token(_ id: Int, _ content: String, special: Bool) -> String {
            "{\"id\":\(id),\"content\":\(jsonText(content)),\"single_word\":false,\"lstrip\":false,"
                + "\"rstrip\":false,\"normalized\":\(!special),\"special\":\(special)}"
        }
        var added = [token(0, Self.bos, special: true), token(1, Self.eos, special: true), token(2, Self.pad, special: true)]
        for (id, entry) in zip(addedTokenIds, Self.addedTokens) { added.append(token(id, entry.0, special: entry.special)) }
        let vocab = vocabulary.enumerated().map { "\(jsonText($0.element)):\($0.offset)" }.joined(separator: ",")
        let mergeList = merges.map { jsonText($0.0 + " " + $0.1) }.joined(separator: ",")
        // DeepSeek-V3's third split regex; \r and \n are the control characters themselves, as in
        // the released file.
        let split = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
            + "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
        return """
            {"version":"1.0","truncation":null,"padding":null,"added_tokens":[\(added.joined(separator: ","))],\
            "normalizer":{"type":"Sequence","normalizers":[]},\
            "pre_tokenizer":{"type":"Sequence","pretokenizers":[\
            {"type":"Split","pattern":{"Regex":"\\\\p{N}{1,3}"},"behavior":"Isolated","invert":false},\
            {"type":"Split","pattern":{"Regex":"[一-龥぀-ゟ゠-ヿ]+"},"behavior":"Isolated","invert":false},\
            {"type":"Split","pattern":{"Regex":\(jsonText(split))},"behavior":"Isolated","invert":false},\
            {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]},\
            "post_processor":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true},\
            "decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},\
            "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,\
            "end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,\
            "vocab":{\(vocab)},"merges":[\(mergeList)]}}

            """
    }

    /// `tokenizer_config.json` as the R1 checkpoint ships it (BOS added, no EOS), with a short
    /// chat template in R1's style.
    package func tokenizerConfigJSON() -> String {
        let template =
            "{% for message in messages %}{% if message['role'] == 'user' %}{{'<｜User｜>' + message['content']}}"
            + "{% else %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{% endif %}{% endfor %}"
            + "{% if add_generation_prompt %}{{'<｜Assistant｜><think>\\n'}}{% endif %}"
        return """
            {
              "add_bos_token": true,
              "add_eos_token": false,
              "bos_token": {"__type": "AddedToken", "content": \(jsonText(Self.bos)), "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
              "eos_token": {"__type": "AddedToken", "content": \(jsonText(Self.eos)), "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
              "pad_token": {"__type": "AddedToken", "content": \(jsonText(Self.eos)), "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
              "clean_up_tokenization_spaces": false,
              "legacy": true,
              "model_max_length": 16384,
              "tokenizer_class": "LlamaTokenizerFast",
              "unk_token": null,
              "chat_template": \(jsonText(template))
            }

            """
    }

    /// Byte symbols indexed by byte value (GPT-2's `bytes_to_unicode`, shared with the tokenizer).
    static let byteToUnicode: [String] = ByteLevel.characters.map(String.init)

    /// Byte symbols in GPT-2's enumeration order (printables first): the order of ids 3...258.
    static var byteSymbolsInIdOrder: [String] {
        let order = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        let rest = (0...255).filter { !order.contains($0) }
        return (order + rest).map { byteToUnicode[$0] }
    }

    /// An approximation of DeepSeek's split regex, good enough to learn sensible merges: digits in
    /// runs of up to three, letter runs with one optional leading non-letter, punctuation runs,
    /// whitespace runs.
    static func roughPreTokens(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        var kind = 0  // 1 letters, 2 digits, 3 punctuation, 4 space
        func flush() {
            if !current.isEmpty { tokens.append(current) }
            current = ""
        }
        for character in text {
            let newKind: Int =
                character.isLetter ? 1 : character.isNumber ? 2 : character.isWhitespace ? 4 : 3
            if newKind == 1 && kind == 4 && current == " " {
                current.append(character)
                kind = 1
                continue
            }
            if newKind != kind || (newKind == 2 && current.count == 3) { flush() }
            current.append(character)
            kind = newKind
        }
        flush()
        return tokens
    }
}
