import DeepSeekV3
import Foundation
import Quants
import TensorFiles

/// Weights read from a `deepseek2` GGUF (moepack's or llama.cpp's layout): the config comes from
/// the `deepseek2.*` keys, tensors are mapped back to Hugging Face names with the same table the
/// converter uses (`DeepSeek2Tensor.plan`), block formats are decoded row by row, routed experts
/// are slices of the stacked `ffn_*_exps`, and `kv_b_proj` is re-assembled from `attn_k_b` (stored
/// transposed per head) and `attn_v_b`. The file stays mmap'd.
public final class GGUFWeights: WeightSource, @unchecked Sendable {
    public let config: DeepSeekV3Config
    public let file: GGUFFile

    enum Location {
        /// Rows `firstRow..<firstRow+rows` of a GGUF tensor with rows of `columns` values.
        case rows(GGUFFile.TensorInfo, firstRow: Int, rows: Int, columns: Int)
        /// `kv_b_proj` `[heads·(nope+v), kvLora]` from `attn_k_b` and `attn_v_b`.
        case keyValue(key: GGUFFile.TensorInfo, value: GGUFFile.TensorInfo, heads: Int, nope: Int, v: Int, kvLora: Int)
    }

    let locations: [String: Location]

    public init(path: String) throws {
        let gguf = try GGUFFile(path: path)
        let config = try Self.config(of: gguf)
        // Every block has several tensors: a block count above the tensor count is a damaged
        // header, refused before the tensor plan is built from it.
        let blocks = config.numHiddenLayers + config.numNextNPredictLayers
        guard blocks <= gguf.tensors.count else {
            throw WeightError(file: path, tensor: "-", message: "deepseek2.block_count \(blocks) exceeds the file's \(gguf.tensors.count) tensors")
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
            case .keyFromKVB(let hf, let heads, let nope, let v, let kvLora):
                let valueInfo = try tensor(planned.name.replacingOccurrences(of: "attn_k_b", with: "attn_v_b"))
                map[hf] = .keyValue(key: info, value: valueInfo, heads: heads, nope: nope, v: v, kvLora: kvLora)
            case .valueFromKVB:
                break
            }
        }
        file = gguf
        self.config = config
        locations = map
    }

    public var label: String {
        let type = file.value("general.file_type").flatMap(Self.number).flatMap { Int(exactly: $0) }.map { "file type \($0)" } ?? "GGUF"
        return "GGUF \(fileName(file.path)) (\(type))"
    }

    public var byteCount: Int { file.mapping.size }

    func location(_ name: String) throws(WeightError) -> Location {
        guard let location = locations[name] else {
            throw WeightError(file: file.path, tensor: name, message: "no GGUF tensor holds this weight")
        }
        return location
    }

    public func shape(of name: String) throws(WeightError) -> (rows: Int, columns: Int) {
        switch try location(name) {
        case .rows(_, _, let rows, let columns): return (rows, columns)
        case .keyValue(_, _, let heads, let nope, let v, let kvLora): return (heads * (nope + v), kvLora)
        }
    }

    public func read(_ name: String, rows: Range<Int>, into output: UnsafeMutablePointer<Float>) throws(WeightError) {
        switch try location(name) {
        case .rows(let info, let firstRow, _, let columns):
            try decode(info, rows: (firstRow + rows.lowerBound)..<(firstRow + rows.upperBound), columns: columns, into: output, label: name)
        case .keyValue(let key, let value, _, let nope, let v, let kvLora):
            // Only the heads the requested rows fall in are decoded: row r is head r / (nope+v), a
            // key row when r % (nope+v) < nope, else a value row. attn_k_b rows are (head, latent)
            // of `nope` values, so a key row needs that head's whole attn_k_b slice, transposed;
            // a value row is one attn_v_b row as it is.
            let perHead = nope + v
            let keySlice = Matrix(rows: kvLora, columns: nope)
            var decodedHead = -1
            for r in rows {
                let h = r / perHead, i = r % perHead
                let destination = output + (r - rows.lowerBound) * kvLora
                if i < nope {
                    if decodedHead != h {
                        try decode(key, rows: (h * kvLora)..<((h + 1) * kvLora), columns: nope, into: keySlice.pointer, label: name)
                        decodedHead = h
                    }
                    for j in 0..<kvLora { destination[j] = keySlice.row(j)[i] }
                } else {
                    try decode(value, rows: (h * v + i - nope)..<(h * v + i - nope + 1), columns: kvLora, into: destination, label: name)
                }
            }
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
            case .keyValue(let key, let value, _, _, _, _)?:
                for info in [key, value] {
                    let start = file.dataOffset + info.offset
                    file.mapping.advise(advice, range: start..<(start + info.byteCount))
                }
            case nil: continue
            }
        }
    }

    public func prefetch(_ names: [String]) { advise(names, .willNeed) }
    public func release(_ names: [String]) { advise(names, .dontNeed) }

    // MARK: - The config from deepseek2.* keys

    static func number(_ value: GGUFValue) -> Double? {
        switch value {
        case .uint8(let x): Double(x)
        case .int8(let x): Double(x)
        case .uint16(let x): Double(x)
        case .int16(let x): Double(x)
        case .uint32(let x): Double(x)
        case .int32(let x): Double(x)
        case .uint64(let x): Double(x)
        case .int64(let x): Double(x)
        case .float32(let x): Double(x)
        case .float64(let x): x
        case .bool(let x): x ? 1 : 0
        default: nil
        }
    }

    /// Rebuilds the Hugging Face `config.json` fields the engine needs from llama.cpp's keys
    /// (`src/models/deepseek2.cpp`; see `formats/gguf.md`), then validates it like a real config.
    static func config(of file: GGUFFile) throws -> DeepSeekV3Config {
        let path = file.path
        guard case .string(let architecture)? = file.value("general.architecture"), architecture == "deepseek2" else {
            throw WeightError(file: path, tensor: "-", message: "general.architecture is not deepseek2")
        }
        func key(_ name: String) throws -> Double {
            guard let value = optional(name) else {
                throw WeightError(file: path, tensor: "-", message: "metadata key deepseek2.\(name) is missing or not a number")
            }
            return value
        }
        func optional(_ name: String) -> Double? { file.value("deepseek2." + name).flatMap(number) }
        /// A count or size: a whole number that fits in `Int` (the config then bounds it).
        func whole(_ value: Double, _ name: String) throws -> Int {
            guard let integer = Int(exactly: value) else {
                throw WeightError(file: path, tensor: "-", message: "metadata key \(name) is \(value), not a whole number in range")
            }
            return integer
        }
        func int(_ name: String) throws -> Int { try whole(try key(name), "deepseek2." + name) }
        func int(_ name: String, default fallback: Int) throws -> Int { try optional(name).map { try whole($0, "deepseek2." + name) } ?? fallback }
        /// f32 keys hold decimal config values; print them back at f32 precision (finite only:
        /// JSON has no NaN or infinity, and the config then checks the range).
        func decimal(_ name: String, default fallback: Double? = nil) throws -> String {
            let x: Double
            if let fallback { x = optional(name) ?? fallback } else { x = try key(name) }
            guard x.isFinite else {
                throw WeightError(file: path, tensor: "-", message: "metadata key deepseek2.\(name) is \(x), not a finite number")
            }
            return String(format: "%.7g", x)
        }
        let gating = optional("expert_gating_func") ?? 1
        guard gating == 2 else {
            throw WeightError(file: path, tensor: "-", message: "deepseek2.expert_gating_func is \(gating == 1 ? "1 (softmax, also llama.cpp's default when absent)" : "\(gating) (unknown)"); DeepSeek-V3/R1 files must say 2 (sigmoid)")
        }
        let rope = try int("rope.dimension_count")
        let mtp = try int("nextn_predict_layers", default: 0)
        let tokenCount = file.value("tokenizer.ggml.tokens").map { if case .array(let a) = $0 { a.count } else { 0 } } ?? 0
        let (layers, layersOverflow) = try int("block_count").subtractingReportingOverflow(mtp)
        let (nope, nopeOverflow) = try int("attention.key_length_mla").subtractingReportingOverflow(rope)
        guard !layersOverflow, !nopeOverflow else {
            throw WeightError(file: path, tensor: "-", message: "metadata keys deepseek2.block_count/nextn_predict_layers or key_length_mla/rope.dimension_count overflow")
        }
        var entries: [String: String] = [
            "vocab_size": "\(try int("vocab_size", default: tokenCount))",
            "hidden_size": "\(try int("embedding_length"))",
            "intermediate_size": "\(try int("feed_forward_length"))",
            "moe_intermediate_size": "\(try int("expert_feed_forward_length"))",
            "num_hidden_layers": "\(layers)",
            "num_nextn_predict_layers": "\(mtp)",
            "num_attention_heads": "\(try int("attention.head_count"))",
            "n_shared_experts": "\(try int("expert_shared_count"))",
            "n_routed_experts": "\(try int("expert_count"))",
            "num_experts_per_tok": "\(try int("expert_used_count"))",
            "routed_scaling_factor": try decimal("expert_weights_scale", default: 1),
            "kv_lora_rank": "\(try int("attention.kv_lora_rank"))",
            "q_lora_rank": "\(try int("attention.q_lora_rank"))",
            "qk_rope_head_dim": "\(rope)",
            "qk_nope_head_dim": "\(nope)",
            "v_head_dim": "\(try int("attention.value_length_mla"))",
            "n_group": "\(try int("expert_group_count", default: 1))",
            "topk_group": "\(try int("expert_group_used_count", default: 1))",
            "first_k_dense_replace": "\(try int("leading_dense_block_count", default: 0))",
            "norm_topk_prob": (optional("expert_weights_norm") ?? 0) != 0 ? "true" : "false",
            "scoring_func": "\"sigmoid\"",
            "topk_method": "\"noaux_tc\"",
            "hidden_act": "\"silu\"",
            "max_position_embeddings": "\(try int("context_length"))",
            "rms_norm_eps": try decimal("attention.layer_norm_rms_epsilon"),
            "rope_theta": try decimal("rope.freq_base", default: 10000),
            "model_type": "\"deepseek_v3\"",
        ]
        if case .string("yarn")? = file.value("deepseek2.rope.scaling.type") {
            // yarn_log_multiplier = 0.1 · mscale_all_dim (llama.cpp's loader divides by 0.1 again).
            let multiplier = optional("rope.scaling.yarn_log_multiplier") ?? 0.1
            guard multiplier.isFinite else {
                throw WeightError(file: path, tensor: "-", message: "metadata key deepseek2.rope.scaling.yarn_log_multiplier is \(multiplier), not a finite number")
            }
            let mscale = String(format: "%.7g", multiplier / 0.1)
            entries["rope_scaling"] = """
                {"type": "yarn", "factor": \(try decimal("rope.scaling.factor")), \
                "original_max_position_embeddings": \(try int("rope.scaling.original_context_length")), \
                "beta_fast": \(try decimal("rope.scaling.yarn_beta_fast", default: 32)), \
                "beta_slow": \(try decimal("rope.scaling.yarn_beta_slow", default: 1)), \
                "mscale": \(mscale), "mscale_all_dim": \(mscale)}
                """
        }
        for (key, field) in [("tokenizer.ggml.bos_token_id", "bos_token_id"), ("tokenizer.ggml.eos_token_id", "eos_token_id")] {
            if let id = file.value(key).flatMap(number) { entries[field] = "\(try whole(id, key))" }
        }
        let json = "{" + entries.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
        return try DeepSeekV3Config.parse(Data(json.utf8), file: path + " (deepseek2 metadata)")
    }
}

extension GGUFWeights {
    /// The tokenizer embedded in the file (`tokenizer.ggml.*`, gpt2 model with the `deepseek-v3`
    /// pre-tokenizer), rebuilt as the `tokenizer.json` it came from: NORMAL tokens form the BPE
    /// vocabulary, CONTROL and USER_DEFINED tokens are added tokens (special and not), UNUSED
    /// padding entries are left out.
    public func tokenizer() throws -> BPETokenizer {
        func fail(_ message: String) -> WeightError { WeightError(file: file.path, tensor: "-", message: message) }
        guard case .string("gpt2")? = file.value("tokenizer.ggml.model") else { throw fail("no gpt2 (byte-level BPE) tokenizer in the file; pass --tokenizer") }
        guard case .string("deepseek-v3")? = file.value("tokenizer.ggml.pre") else { throw fail("tokenizer.ggml.pre is not deepseek-v3; pass --tokenizer") }
        guard case .array(.string(let tokens))? = file.value("tokenizer.ggml.tokens"),
            case .array(.int32(let types))? = file.value("tokenizer.ggml.token_type"), types.count == tokens.count,
            case .array(.string(let merges))? = file.value("tokenizer.ggml.merges")
        else { throw fail("tokenizer.ggml.tokens / token_type / merges missing or of the wrong type") }
        var vocab: [String: Int] = [:]
        var added: [[String: Any]] = []
        for (id, token) in tokens.enumerated() {
            switch types[id] {
            case 1: vocab[token] = id
            case 3, 4: added.append(["id": id, "content": token, "special": types[id] == 3, "normalized": types[id] == 4])
            default: continue
            }
        }
        let steps: [[String: Any]] =
            DeepSeekPreTokenizer.patterns.map { ["type": "Split", "pattern": ["Regex": $0], "behavior": "Isolated", "invert": false] }
            + [["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false]]
        let json: [String: Any] = [
            "model": ["type": "BPE", "vocab": vocab, "merges": merges],
            "added_tokens": added,
            "pre_tokenizer": ["type": "Sequence", "pretokenizers": steps],
            "decoder": ["type": "ByteLevel"],
        ]
        var config: [String: Any] = [:]
        if case .bool(let addBOS)? = file.value("tokenizer.ggml.add_bos_token") { config["add_bos_token"] = addBOS }
        if case .bool(let addEOS)? = file.value("tokenizer.ggml.add_eos_token") { config["add_eos_token"] = addEOS }
        for (key, field) in [("tokenizer.ggml.bos_token_id", "bos_token"), ("tokenizer.ggml.eos_token_id", "eos_token")] {
            if let id = file.value(key).flatMap(Self.number).flatMap({ Int(exactly: $0) }), tokens.indices.contains(id) { config[field] = tokens[id] }
        }
        return try BPETokenizer(
            tokenizerJSON: JSONSerialization.data(withJSONObject: json), tokenizerConfig: JSONSerialization.data(withJSONObject: config),
            file: file.path + " (tokenizer.ggml.*)")
    }
}
