import DeepSeekV3
import Foundation
import Quants
import TensorFiles

/// Weights read from a `deepseek2` GGUF (moepack's or llama.cpp's layout): the config comes from
/// the `deepseek2.*` keys, tensors are mapped back to Hugging Face names with the same table the
/// converter uses (`DeepSeek2Tensor.plan`), block formats are decoded row by row, routed experts
/// are slices of the stacked `ffn_*_exps`, and `kv_b_proj` is re-assembled from `attn_k_b` (stored
/// transposed per head) and `attn_v_b`. The file stays mmap'd.
package final class GGUFWeights: WeightSource, @unchecked Sendable {
    package let config: DeepSeekV3Config
    package let file: GGUFFile

    enum Location {
        /// Rows `firstRow..<firstRow+rows` of a GGUF tensor with rows of `columns` values.
        case rows(GGUFFile.TensorInfo, firstRow: Int, rows: Int, columns: Int)
        /// `kv_b_proj` `[heads·(nope+v), kvLora]` from `attn_k_b` and `attn_v_b`.
        case keyValue(key: GGUFFile.TensorInfo, value: GGUFFile.TensorInfo, split: KVBSplit)
    }

    let locations: [String: Location]

    package init(path: String) throws {
        let gguf = try GGUFFile(path: path)
        let config: DeepSeekV3Config
        do { config = try DeepSeekV3Config(deepseek2: gguf) } catch let error as DeepSeek2KeyError {
            throw WeightError(file: path, tensor: "-", message: error.message)
        }
        // Every block has several tensors: a block count above the tensor count is a damaged
        // header, refused before the tensor plan is built from it.
        let blocks = config.numHiddenLayers + config.numNextNPredictLayers
        guard blocks <= gguf.tensors.count else {
            throw WeightError(file: path, tensor: "-", message: "\(DeepSeek2Key.blockCount) \(blocks) exceeds the file's \(gguf.tensors.count) tensors")
        }
        var map: [String: Location] = [:]
        func tensor(_ name: String) throws -> GGUFFile.TensorInfo {
            guard let info = gguf.tensor(name) else {
                throw WeightError(file: path, tensor: name, message: "missing from the GGUF file")
            }
            if info.type.format == nil {
                throw WeightError(file: path, tensor: name, message: "type \(info.type.name) cannot be decoded by moepack")
            }
            return info
        }
        for planned in DeepSeek2Tensor.plan(config) {
            let info = try tensor(planned.name)
            guard info.dimensions == planned.dimensions else {
                throw WeightError(file: path, tensor: planned.name, message: "shape \(info.dimensions), expected \(planned.dimensions) from the file's deepseek2 keys")
            }
            let columns = planned.dimensions[0]
            switch planned.source {
            case .tensor(let hf):
                map[hf] = .rows(info, firstRow: 0, rows: planned.rowCount, columns: columns)
            case .stacked(let names):
                let perExpert = planned.rowCount / names.count
                for (e, hf) in names.enumerated() {
                    map[hf] = .rows(info, firstRow: e * perExpert, rows: perExpert, columns: columns)
                }
            case .keyFromKVB(let hf, _, _, _, _):
                let valueInfo = try tensor(planned.name.replacingOccurrences(of: DeepSeek2Name.attnKB.rawValue, with: DeepSeek2Name.attnVB.rawValue))
                map[hf] = .keyValue(key: info, value: valueInfo, split: planned.source.split!)
            case .valueFromKVB:
                break
            }
        }
        file = gguf
        self.config = config
        locations = map
    }

    package var label: String {
        let type = file.value(GGUFKey.fileType)?.number.flatMap { Int(exactly: $0) }.map { "file type \($0)" } ?? "GGUF"
        return "GGUF \(fileName(file.path)) (\(type))"
    }

    package var byteCount: Int { file.mapping.size }

    func location(_ name: String) throws(WeightError) -> Location {
        guard let location = locations[name] else {
            throw WeightError(file: file.path, tensor: name, message: "no GGUF tensor holds this weight")
        }
        return location
    }

    package func shape(of name: String) throws(WeightError) -> (rows: Int, columns: Int) {
        switch try location(name) {
        case .rows(_, _, let rows, let columns): return (rows, columns)
        case .keyValue(_, _, let split): return (split.heads * (split.nope + split.v), split.kvLora)
        }
    }

    package func read(_ name: String, rows: Range<Int>, into output: UnsafeMutablePointer<Float>) throws(WeightError) {
        switch try location(name) {
        case .rows(let info, let firstRow, _, let columns):
            try decode(info, rows: (firstRow + rows.lowerBound)..<(firstRow + rows.upperBound), columns: columns, into: output, label: name)
        case .keyValue(let key, let value, let split):
            // kv_b_proj rows from attn_k_b (each head's slice decoded once, transposed back) and attn_v_b.
            try split.kvbRows(
                rows, into: output,
                keyRows: { (h, slice) throws(WeightError) in
                    try decode(key, rows: (h * split.kvLora)..<((h + 1) * split.kvLora), columns: split.nope, into: slice, label: name)
                },
                valueRow: { (i, row) throws(WeightError) in try decode(value, rows: i..<(i + 1), columns: split.kvLora, into: row, label: name) })
        }
    }

    func decode(_ info: GGUFFile.TensorInfo, rows: Range<Int>, columns: Int, into output: UnsafeMutablePointer<Float>, label: String) throws(WeightError) {
        guard let rowBytes = info.type.rowBytes(columns) else {
            throw WeightError(file: file.path, tensor: info.name, message: "rows of \(columns) are not whole \(info.type.name) blocks")
        }
        let bytes = file.bytes(of: info)
        for (i, r) in rows.enumerated() {
            let row = UnsafeRawBufferPointer(rebasing: bytes[(r * rowBytes)..<((r + 1) * rowBytes)])
            let destination = UnsafeMutableBufferPointer(start: output + i * columns, count: columns)
            do { try info.type.dequantize(row: row, count: columns, into: destination) } catch {
                throw WeightError(file: file.path, tensor: info.name, message: "\(error)")
            }
            if let bad = destination.firstIndex(where: { !$0.isFinite }) {
                throw WeightError(file: file.path, tensor: info.name, message: "non-finite value \(destination[bad]) in row \(r), column \(bad) (weight \(label))")
            }
        }
    }

    func advise(_ names: [String], _ advice: MappedFile.Advice) {
        for name in names {
            switch locations[name] {
            case .rows(let info, let firstRow, let rows, let columns)?:
                guard let rowBytes = info.type.rowBytes(columns) else { continue }
                let start = file.dataOffset + info.offset + firstRow * rowBytes
                file.mapping.advise(advice, range: start..<(start + rows * rowBytes))
            case .keyValue(let key, let value, _)?:
                for info in [key, value] {
                    let start = file.dataOffset + info.offset
                    file.mapping.advise(advice, range: start..<(start + info.byteCount))
                }
            case nil: continue
            }
        }
    }

    package func prefetch(_ names: [String]) { advise(names, .willNeed) }
    package func release(_ names: [String]) { advise(names, .dontNeed) }
}

extension GGUFWeights {
    /// The tokenizer embedded in the file (`tokenizer.ggml.*`, gpt2 model with the `deepseek-v3`
    /// pre-tokenizer), rebuilt as the `tokenizer.json` it came from: NORMAL tokens form the BPE
    /// vocabulary, CONTROL and USER_DEFINED tokens are added tokens (special and not), UNUSED
    /// padding entries are left out.
    package func tokenizer() throws -> BPETokenizer {
        func fail(_ message: String) -> WeightError { WeightError(file: file.path, tensor: "-", message: message) }
        guard case .string("gpt2")? = file.value(GGUFKey.tokenizerModel) else { throw fail("no gpt2 (byte-level BPE) tokenizer in the file; pass --tokenizer") }
        guard case .string("deepseek-v3")? = file.value(GGUFKey.tokenizerPre) else { throw fail("tokenizer.ggml.pre is not deepseek-v3; pass --tokenizer") }
        guard case .array(.string(let tokens))? = file.value(GGUFKey.tokens),
            case .array(.int32(let types))? = file.value(GGUFKey.tokenTypes), types.count == tokens.count,
            case .array(.string(let merges))? = file.value(GGUFKey.merges)
        else { throw fail("tokenizer.ggml.tokens / token_type / merges missing or of the wrong type") }
        // The arrays are llama.cpp's form of tokenizer.json: token types 1 (normal) are the BPE
        // vocabulary, 3 (control) and 4 (user-defined) the added tokens, special and not.
        var vocabulary: [(token: String, id: Int)] = []
        vocabulary.reserveCapacity(tokens.count)
        var added: [BPETokenizer.AddedToken] = []
        for (id, token) in tokens.enumerated() {
            switch types[id] {
            case 1: vocabulary.append((token, id))
            case 3, 4: added.append(BPETokenizer.AddedToken(id: id, content: token, special: types[id] == 3, normalized: types[id] == 4))
            default: continue
            }
        }
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(merges.count)
        for (rank, text) in merges.enumerated() {
            guard let pair = BPETokenizer.Definition.merge(text) else { throw fail("tokenizer.ggml.merges[\(rank)] '\(text)' is not 'left right'") }
            pairs.append(pair)
        }
        var definition = BPETokenizer.Definition(vocabulary: vocabulary, addedTokens: added, merges: pairs)
        if case .bool(let addBOS)? = file.value(GGUFKey.addBOSToken) { definition.addBOS = addBOS }
        if case .bool(let addEOS)? = file.value(GGUFKey.addEOSToken) { definition.addEOS = addEOS }
        func content(_ key: String) -> String? { file.value(key)?.number.flatMap { Int(exactly: $0) }.flatMap { tokens.indices.contains($0) ? tokens[$0] : nil } }
        definition.bosToken = content(GGUFKey.bosTokenID)
        definition.eosToken = content(GGUFKey.eosTokenID)
        return try BPETokenizer(definition, file: file.path + " (tokenizer.ggml.*)")
    }
}
