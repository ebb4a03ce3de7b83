import Foundation
import TensorFiles

/// A byte-level BPE tokenizer loaded from a Hugging Face `tokenizer.json` of the DeepSeek-V3
/// family: BPE model (merges as `"a b"` strings or `["a", "b"]` pairs), added tokens (special and
/// not), DeepSeek's pre-tokenizer, an empty normalizer, the ByteLevel decoder. Components it does
/// not implement are refused by name, never approximated.
///
/// Encoding follows `tokenizers`: added tokens are cut out first (leftmost-longest; tokens with
/// `normalized: false` in a first pass, the others in a second), the remaining text is
/// pre-tokenized, each piece's UTF-8 bytes become byte-level symbols, and merges are applied
/// lowest rank first (leftmost on ties) until none applies.
package final class BPETokenizer: @unchecked Sendable {
    package struct AddedToken: Sendable, Equatable {
        package var id: Int
        package var content: String
        package var special: Bool
        package var normalized: Bool

        package init(id: Int, content: String, special: Bool, normalized: Bool) {
            self.id = id
            self.content = content
            self.special = special
            self.normalized = normalized
        }
    }

    /// Token string of each id (byte-level form for BPE tokens, content for added tokens).
    package let tokens: [String]
    /// Merges in rank order, as written in the file.
    package let merges: [(String, String)]
    package let addedTokens: [AddedToken]
    /// From `tokenizer_config.json` when it sits beside the tokenizer (DeepSeek R1: true).
    package let addBOS: Bool
    package let addEOS: Bool
    package let bosTokenId: Int?
    package let eosTokenId: Int?
    /// `chat_template` of `tokenizer_config.json`, if any.
    package let chatTemplate: String?

    private let idOfToken: [String: Int]
    private let byteSymbolIds: [Int32]
    /// (left id << 32 | right id) -> (rank, merged id)
    private let mergeTable: [UInt64: (rank: Int32, merged: Int32)]
    private let cache = BPECache()
    /// Added tokens by their first scalar, for each matching pass (`normalized` false, then true).
    private let addedByFirstScalar: [[Unicode.Scalar: [(id: Int, content: [Unicode.Scalar])]]]

    /// No token id may reach this (16,777,216; the largest real vocabularies have ~256 K ids).
    package static let maximumIds = 1 << 24

    package struct LoadError: Error, CustomStringConvertible, Sendable {
        package var file: String
        package var message: String
        package var description: String { "\(file): \(message)" }
    }

    /// Loads `tokenizer.json` (a file, or a directory holding it and `tokenizer_config.json`).
    package convenience init(path: String) throws {
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let file = isDirectory.boolValue ? path + "/tokenizer.json" : path
        let configPath = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("tokenizer_config.json").path
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
            throw LoadError(file: file, message: "cannot read: \(error.localizedDescription)")
        }
        let config = FileManager.default.fileExists(atPath: configPath) ? try? Data(contentsOf: URL(fileURLWithPath: configPath)) : nil
        try self.init(tokenizerJSON: data, tokenizerConfig: config, file: file)
    }

    /// What a tokenizer is made of, whatever it was read from (`tokenizer.json` or a GGUF's
    /// `tokenizer.ggml.*` arrays): the byte-level BPE vocabulary, the added tokens, the merges in
    /// rank order, and `tokenizer_config.json`'s special-token settings.
    package struct Definition: Sendable {
        package var vocabulary: [(token: String, id: Int)]
        package var addedTokens: [AddedToken]
        package var merges: [(String, String)]
        package var addBOS = false
        package var addEOS = false
        /// Contents of the BOS/EOS tokens (looked up among the vocabulary and added tokens).
        package var bosToken: String?
        package var eosToken: String?
        package var chatTemplate: String?

        /// A merge written as `"left right"` (tokenizer.json's older form and GGUF's `tokenizer.ggml.merges`):
        /// split at the first space; nil when there is none.
        package static func merge(_ text: String) -> (String, String)? {
            let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }

        package init(vocabulary: [(token: String, id: Int)], addedTokens: [AddedToken], merges: [(String, String)]) {
            self.vocabulary = vocabulary
            self.addedTokens = addedTokens
            self.merges = merges
        }
    }

    /// Parses `tokenizer.json` (and `tokenizer_config.json`), refusing components moepack does
    /// not implement, then builds the tokenizer from its `Definition`.
    package convenience init(tokenizerJSON: Data, tokenizerConfig: Data? = nil, file: String = "tokenizer.json") throws {
        func fail(_ message: String) -> LoadError { LoadError(file: file, message: message) }
        guard let root = (try? JSONSerialization.jsonObject(with: tokenizerJSON)) as? [String: Any] else {
            throw fail("not a JSON object")
        }
        // Model
        guard let model = root["model"] as? [String: Any], model["type"] as? String == "BPE" else {
            throw fail("model.type must be BPE (got \(((root["model"] as? [String: Any])?["type"]).map { "\($0)" } ?? "none"))")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix", "dropout", "unk_token"] {
            if let value = model[key], !(value is NSNull) { throw fail("unsupported BPE option model.\(key) = \(value)") }
        }
        if let fallback = model["byte_fallback"].flatMap(JSONNumbers.boolean), fallback { throw fail("unsupported BPE option model.byte_fallback = true") }
        if let ignore = model["ignore_merges"].flatMap(JSONNumbers.boolean), ignore { throw fail("unsupported BPE option model.ignore_merges = true") }
        guard let vocab = model["vocab"] as? [String: Any] else { throw fail("model.vocab missing") }
        // Normalizer: none or an empty sequence.
        if let normalizer = root["normalizer"] as? [String: Any] {
            let isEmptySequence = normalizer["type"] as? String == "Sequence" && (normalizer["normalizers"] as? [Any])?.isEmpty == true
            if !isEmptySequence { throw fail("unsupported normalizer \(normalizer["type"] ?? "?") (only none or an empty Sequence)") }
        }
        try Self.checkPreTokenizer(root["pre_tokenizer"], fail: fail)
        guard let decoder = root["decoder"] as? [String: Any], decoder["type"] as? String == "ByteLevel" else {
            throw fail("unsupported decoder \(((root["decoder"] as? [String: Any])?["type"]).map { "\($0)" } ?? "none") (only ByteLevel)")
        }

        var vocabulary: [(token: String, id: Int)] = []
        vocabulary.reserveCapacity(vocab.count)
        for (token, value) in vocab {
            guard let id = JSONNumbers.integer(value) else { throw fail("vocab entry '\(token)' has no integer id") }
            vocabulary.append((token, id))
        }
        var added: [AddedToken] = []
        for entry in (root["added_tokens"] as? [[String: Any]]) ?? [] {
            guard let id = entry["id"].flatMap(JSONNumbers.integer), let content = entry["content"] as? String else {
                throw fail("added token without id or content")
            }
            for flag in ["lstrip", "rstrip", "single_word"] where entry[flag].flatMap(JSONNumbers.boolean) == true {
                throw fail("added token '\(content)': option \(flag) is not supported")
            }
            added.append(AddedToken(
                id: id, content: content, special: entry["special"].flatMap(JSONNumbers.boolean) ?? false,
                normalized: entry["normalized"].flatMap(JSONNumbers.boolean) ?? false))
        }
        var merges: [(String, String)] = []
        for (rank, entry) in ((model["merges"] as? [Any]) ?? []).enumerated() {
            if let text = entry as? String {
                guard let pair = Definition.merge(text) else { throw fail("merge \(rank) '\(text)' is not 'left right'") }
                merges.append(pair)
            } else if let array = entry as? [String], array.count == 2 {
                merges.append((array[0], array[1]))
            } else {
                throw fail("merge \(rank) is neither a string nor a pair")
            }
        }
        var definition = Definition(vocabulary: vocabulary, addedTokens: added, merges: merges)
        if let configData = tokenizerConfig, let config = (try? JSONSerialization.jsonObject(with: configData)) as? [String: Any] {
            definition.addBOS = config["add_bos_token"].flatMap(JSONNumbers.boolean) ?? false
            definition.addEOS = config["add_eos_token"].flatMap(JSONNumbers.boolean) ?? false
            func content(_ key: String) -> String? { (config[key] as? String) ?? ((config[key] as? [String: Any])?["content"] as? String) }
            definition.bosToken = content("bos_token")
            definition.eosToken = content("eos_token")
            definition.chatTemplate = config["chat_template"] as? String
        }
        try self.init(definition, file: file)
    }

    /// Builds the lookup tables, checking what every source must satisfy: ids bounded, no two
    /// added tokens on one id, every byte-level symbol present, merges over known tokens.
    package init(_ definition: Definition, file: String) throws {
        func fail(_ message: String) -> LoadError { LoadError(file: file, message: message) }
        // Ids index the token table, so they are bounded before it is allocated: below the
        // number of entries plus 65,536 gaps, and below 2²⁴ (DeepSeek-V3: 129,280 ids).
        let idBound = min(Self.maximumIds, definition.vocabulary.count + definition.addedTokens.count + 65536)
        var idOfToken: [String: Int] = [:]
        idOfToken.reserveCapacity(definition.vocabulary.count + definition.addedTokens.count)
        var maxId = -1
        for (token, id) in definition.vocabulary {
            guard id >= 0, id < idBound else { throw fail("vocab entry '\(token)' has id \(id), outside 0..<\(idBound)") }
            idOfToken[token] = id
            maxId = max(maxId, id)
        }
        var addedContentById: [Int: String] = [:]
        for token in definition.addedTokens {
            guard token.id >= 0, token.id < idBound else { throw fail("added token '\(token.content)' has id \(token.id), outside 0..<\(idBound)") }
            if let other = addedContentById[token.id] { throw fail("added tokens '\(other)' and '\(token.content)' have the same id \(token.id)") }
            addedContentById[token.id] = token.content
            idOfToken[token.content] = token.id
            maxId = max(maxId, token.id)
        }
        let added = definition.addedTokens
        var tokens = [String](repeating: "", count: maxId + 1)
        for (token, id) in idOfToken { tokens[id] = token }
        for token in added { tokens[token.id] = token.content }
        self.tokens = tokens
        self.idOfToken = idOfToken
        addedTokens = added

        // Byte symbols must all exist: byte-level BPE has no unknown token.
        var byteIds: [Int32] = []
        for (byte, character) in ByteLevel.characters.enumerated() {
            guard let id = idOfToken[String(character)] else {
                throw fail("vocab lacks the byte-level symbol for byte 0x\(String(byte, radix: 16)) ('\(character)')")
            }
            byteIds.append(Int32(id))
        }
        byteSymbolIds = byteIds

        // Merges.
        var table: [UInt64: (rank: Int32, merged: Int32)] = [:]
        table.reserveCapacity(definition.merges.count)
        for (rank, pair) in definition.merges.enumerated() {
            guard let left = idOfToken[pair.0], let right = idOfToken[pair.1], let merged = idOfToken[pair.0 + pair.1] else {
                throw fail("merge \(rank) '\(pair.0) \(pair.1)' uses tokens missing from the vocab")
            }
            let key = UInt64(left) << 32 | UInt64(right)
            if table[key] == nil { table[key] = (Int32(rank), Int32(merged)) }
        }
        merges = definition.merges
        mergeTable = table
        addedByFirstScalar = [false, true].map { pass in
            var index: [Unicode.Scalar: [(id: Int, content: [Unicode.Scalar])]] = [:]
            for token in added where token.normalized == pass {
                let scalars = Array(token.content.unicodeScalars)
                if let first = scalars.first { index[first, default: []].append((token.id, scalars)) }
            }
            return index
        }

        chatTemplate = definition.chatTemplate
        addBOS = definition.addBOS
        addEOS = definition.addEOS
        bosTokenId = definition.bosToken.flatMap { idOfToken[$0] }
        eosTokenId = definition.eosToken.flatMap { idOfToken[$0] }
    }

    static func checkPreTokenizer(_ value: Any?, fail: (String) -> LoadError) throws {
        guard let pre = value as? [String: Any], pre["type"] as? String == "Sequence",
            let steps = pre["pretokenizers"] as? [[String: Any]]
        else { throw fail("unsupported pre_tokenizer (only DeepSeek-V3's Sequence of Split and ByteLevel)") }
        var patterns: [String] = []
        for step in steps {
            switch step["type"] as? String {
            case "Split":
                guard let regex = (step["pattern"] as? [String: Any])?["Regex"] as? String else {
                    throw fail("unsupported Split pattern (only Regex patterns)")
                }
                guard step["behavior"] as? String == "Isolated", step["invert"].flatMap(JSONNumbers.boolean) != true else {
                    throw fail("unsupported Split behavior \(step["behavior"] ?? "?") (only Isolated, not inverted)")
                }
                patterns.append(regex)
            case "ByteLevel":
                guard step["use_regex"].flatMap(JSONNumbers.boolean) == false, step["add_prefix_space"].flatMap(JSONNumbers.boolean) != true else {
                    throw fail("unsupported ByteLevel pre-tokenizer options (only use_regex false, add_prefix_space false)")
                }
            default:
                throw fail("unsupported pre-tokenizer step \(step["type"] ?? "?")")
            }
        }
        guard patterns == DeepSeekPreTokenizer.patterns else {
            let unknown = patterns.first { !DeepSeekPreTokenizer.patterns.contains($0) } ?? "(a different order or count)"
            throw fail("unsupported Split regex \(unknown): moepack implements DeepSeek-V3's three split patterns exactly")
        }
    }

    package var vocabularySize: Int { tokens.count }

    package func id(of token: String) -> Int? { idOfToken[token] }

    // MARK: - Encode

    /// Token ids of `text`; BOS/EOS as `tokenizer_config.json` says when `addSpecialTokens`.
    package func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var ids: [Int] = []
        if addSpecialTokens, addBOS, let bos = bosTokenId { ids.append(bos) }
        for segment in splitAddedTokens(Array(text.unicodeScalars)) {
            switch segment {
            case .added(let id): ids.append(id)
            case .text(let scalars): encodeOrdinary(scalars, into: &ids)
            }
        }
        if addSpecialTokens, addEOS, let eos = eosTokenId { ids.append(eos) }
        return ids
    }

    /// Token ids of arbitrary bytes: valid UTF-8 stretches are encoded as text; each invalid byte
    /// becomes its own byte-level symbol, so `decodeBytes(encode(bytes:))` returns the bytes exactly.
    package func encode(bytes: [UInt8]) -> [Int] {
        var ids: [Int] = []
        var start = 0
        var index = 0
        while index < bytes.count {
            let length = validUTF8Length(bytes, at: index)
            if length == 0 {
                if start < index { ids += encode(String(decoding: bytes[start..<index], as: UTF8.self), addSpecialTokens: false) }
                ids.append(Int(byteSymbolIds[Int(bytes[index])]))
                index += 1
                start = index
            } else {
                index += length
            }
        }
        if start < bytes.count { ids += encode(String(decoding: bytes[start...], as: UTF8.self), addSpecialTokens: false) }
        return ids
    }

    enum Segment {
        case added(Int)
        case text([Unicode.Scalar])
    }

    /// Cuts added tokens out of the text, leftmost-longest: first those with `normalized: false`,
    /// then (in the remaining text) the normalized ones, as `tokenizers`' AddedVocabulary does.
    func splitAddedTokens(_ scalars: [Unicode.Scalar]) -> [Segment] {
        var segments: [Segment] = [.text(scalars)]
        for candidates in addedByFirstScalar where !candidates.isEmpty {
            var next: [Segment] = []
            for segment in segments {
                guard case .text(let s) = segment else {
                    next.append(segment)
                    continue
                }
                var gapStart = 0, position = 0
                while position < s.count {
                    var best: (id: Int, length: Int)?
                    // Added tokens all start with a distinctive scalar; check only those that match here.
                    for (id, content) in candidates[s[position]] ?? [] where content.count <= s.count - position {
                        if (best == nil || content.count > best!.length) && s[position..<(position + content.count)].elementsEqual(content) {
                            best = (id, content.count)
                        }
                    }
                    if let best {
                        if gapStart < position { next.append(.text(Array(s[gapStart..<position]))) }
                        next.append(.added(best.id))
                        position += best.length
                        gapStart = position
                    } else {
                        position += 1
                    }
                }
                if gapStart < s.count { next.append(.text(Array(s[gapStart...]))) }
            }
            segments = next
        }
        return segments
    }

    private func encodeOrdinary(_ scalars: [Unicode.Scalar], into ids: inout [Int]) {
        for piece in DeepSeekPreTokenizer.split(scalars) {
            var utf8: [UInt8] = []
            for scalar in scalars[piece] { utf8.append(contentsOf: UTF8.encode(scalar)!) }
            if let cached = cache.lookup(utf8) {
                ids.append(contentsOf: cached)
                continue
            }
            let result = mergePiece(utf8)
            cache.store(utf8, result)
            ids.append(contentsOf: result)
        }
    }

    /// BPE on one piece: repeatedly merge the adjacent pair of lowest rank (leftmost on ties).
    func mergePiece(_ bytes: [UInt8]) -> [Int] {
        var symbols = bytes.map { byteSymbolIds[Int($0)] }
        while symbols.count > 1 {
            var bestRank = Int32.max, bestIndex = -1, bestMerged: Int32 = 0
            for i in 0..<(symbols.count - 1) {
                if let entry = mergeTable[UInt64(UInt32(symbols[i])) << 32 | UInt64(UInt32(symbols[i + 1]))], entry.rank < bestRank {
                    bestRank = entry.rank
                    bestIndex = i
                    bestMerged = entry.merged
                }
            }
            if bestIndex < 0 { break }
            symbols[bestIndex] = bestMerged
            symbols.remove(at: bestIndex + 1)
        }
        return symbols.map(Int.init)
    }

    // MARK: - Decode

    /// The bytes the ids stand for. As `tokenizers`' ByteLevel decoder: a token whose every
    /// character is in the byte-level alphabet becomes those bytes; any other token (such as
    /// `<｜end▁of▁sentence｜>`) its own UTF-8.
    package func decodeBytes(_ ids: [Int]) -> [UInt8] {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && id < tokens.count {
            let mapped = tokens[id].unicodeScalars.map(ByteLevel.byte(for:))
            if mapped.allSatisfy({ $0 != nil }) {
                bytes.append(contentsOf: mapped.map { $0! })
            } else {
                bytes.append(contentsOf: Array(tokens[id].utf8))
            }
        }
        return bytes
    }

    /// Text of the ids; invalid UTF-8 (from partial sequences) becomes U+FFFD, as in `tokenizers`.
    package func decode(_ ids: [Int]) -> String { String(decoding: decodeBytes(ids), as: UTF8.self) }
}

/// Memoized BPE results per piece (pieces repeat a lot in text).
final class BPECache: @unchecked Sendable {
    private var table: [[UInt8]: [Int]] = [:]
    private let lock = NSLock()
    func lookup(_ key: [UInt8]) -> [Int]? { lock.withLock { table[key] } }
    func store(_ key: [UInt8], _ value: [Int]) {
        lock.withLock {
            if table.count > 200_000 { table.removeAll(keepingCapacity: true) }
            table[key] = value
        }
    }
}

/// Length of the valid UTF-8 sequence starting at `index`, or 0 if the byte starts none.
func validUTF8Length(_ bytes: [UInt8], at index: Int) -> Int {
    let lead = bytes[index]
    let length: Int
    switch lead {
    case 0x00...0x7F: return 1
    case 0xC2...0xDF: length = 2
    case 0xE0...0xEF: length = 3
    case 0xF0...0xF4: length = 4
    default: return 0
    }
    guard index + length <= bytes.count else { return 0 }
    return String(validating: bytes[index..<(index + length)], as: UTF8.self) != nil ? length : 0
}
