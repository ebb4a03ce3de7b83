import DeepSeekV3
import Foundation
import Quants

/// Which GGML type each GGUF tensor gets: user rules first (`REGEX=TYPE`, first match wins), then
/// a built-in mix named like llama.cpp's, then llama.cpp's shape fallback when a row is not a whole
/// number of the chosen type's blocks. Norms, the router and its bias always stay F32 (llama.cpp
/// never quantizes them).
package struct QuantRecipe: Sendable {
    /// Built-in mixes, with llama.cpp's rules for `deepseek2` (`llama_tensor_get_type_impl` in
    /// llama.cpp's `src/llama-quant.cpp`, the version llama-cpp-python 0.3.36 vendors; summarised in
    /// formats/recipe.md; DeepSeek's 256 experts get none of the 8-expert special cases).
    package enum Mix: String, CaseIterable, Sendable {
        case q8_0 = "Q8_0", q6_K = "Q6_K", q5_K_M = "Q5_K_M", q4_K_M = "Q4_K_M", q3_K_M = "Q3_K_M", q2_K = "Q2_K"
        case iq4_xs = "IQ4_XS"
        case iq3_m = "IQ3_M", iq3_s = "IQ3_S", iq3_xs = "IQ3_XS", iq3_xxs = "IQ3_XXS"
        case iq2_m = "IQ2_M", iq2_s = "IQ2_S", iq2_xs = "IQ2_XS", iq2_xxs = "IQ2_XXS"
        case iq1_m = "IQ1_M", iq1_s = "IQ1_S"
        /// MoE-aware: routed experts Q4_K (down Q5_K), everything else Q8_0 — the DeepSeek community's
        /// "high attention, low experts" shape.
        case moeQ4 = "MOE_Q4"

        package init?(argument: String) {
            guard let mix = Self.allCases.first(where: { $0.rawValue.lowercased() == argument.lowercased() }) else { return nil }
            self = mix
        }

        /// llama.cpp's `general.file_type` (LlamaFileType) for the mix.
        package var fileType: UInt32 {
            switch self {
            case .q8_0: 7
            case .q6_K: 18
            case .q5_K_M: 17
            case .q4_K_M, .moeQ4: 15
            case .q3_K_M: 12
            case .q2_K: 10
            case .iq4_xs: 30
            case .iq2_xxs: 19
            case .iq2_xs: 20
            case .iq3_xs: 22
            case .iq3_xxs: 23
            case .iq1_s: 24
            case .iq3_s: 26
            case .iq3_m: 27
            case .iq2_s: 28
            case .iq2_m: 29
            case .iq1_m: 31
            }
        }

        /// The type most tensors get (`llama_ftype_get_default_type`).
        var defaultType: GGMLType {
            switch self {
            case .q8_0: .q8_0
            case .q6_K: .q6_K
            case .q5_K_M: .q5_K
            case .q4_K_M, .moeQ4: .q4_K
            case .q3_K_M: .q3_K
            case .q2_K: .q2_K
            case .iq4_xs: .iq4_xs
            case .iq3_m, .iq3_s, .iq3_xs: .iq3_s
            case .iq3_xxs: .iq3_xxs
            case .iq2_m: .iq2_s
            case .iq2_s, .iq2_xs: .iq2_xs
            case .iq2_xxs: .iq2_xxs
            case .iq1_m: .iq1_m
            case .iq1_s: .iq1_s
            }
        }

        /// llama.cpp's 2-bit-and-below family, which shares one branch of rules.
        var isVeryLowBit: Bool { [.iq2_xxs, .iq2_xs, .iq2_s, .iq2_m, .iq1_s, .iq1_m].contains(self) }
    }

    /// Types llama.cpp refuses to write without an importance matrix (`tensor_requires_imatrix`;
    /// the token embedding and the output head are exempt).
    package static let typesNeedingImportance: Set<GGMLType> = [.iq3_xxs, .iq2_xxs, .iq2_xs, .iq2_s, .iq1_m, .iq1_s]

    package struct Rule: Sendable {
        package var pattern: String
        package var type: GGMLType
        let regex: NSRegularExpression

        /// Parses `REGEX=TYPE` (as llama-quantize's `--tensor-type`).
        package init(parsing text: String) throws {
            guard let equals = text.lastIndex(of: "=") else { throw RecipeError.badRule(text, "expected REGEX=TYPE") }
            pattern = String(text[..<equals])
            let typeName = String(text[text.index(after: equals)...])
            guard let type = GGMLType(name: typeName), type.format != nil else {
                throw RecipeError.badRule(text, "unknown or unsupported type '\(typeName)'")
            }
            self.type = type
            do { regex = try NSRegularExpression(pattern: pattern) } catch {
                throw RecipeError.badRule(text, "invalid regular expression")
            }
        }

        package func matches(_ name: String) -> Bool {
            regex.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
        }
    }

    package enum RecipeError: Error, CustomStringConvertible, Sendable {
        case badRule(String, String)
        case unreadableFile(String)
        package var description: String {
            switch self {
            case .badRule(let rule, let why): "--type '\(rule)': \(why)"
            case .unreadableFile(let path): "\(path): cannot read the recipe file"
            }
        }
    }

    package var mix: Mix
    package var rules: [Rule]
    package var layerCount: Int
    /// llama.cpp special-cases models with exactly 8 experts (Mixtral); R1's 256 never hit it.
    package var expertCount: Int
    /// Some of llama.cpp's rules depend on whether an importance matrix is given (`has_imatrix`).
    package var hasImportance: Bool
    /// Each `ffn_down*` tensor's position among them in llama-quantize's tensor order (by layer,
    /// then name): the 2-bit mixes raise the first `layers / 8` of them by that count, not by layer.
    package var ffnDownOrdinals: [String: Int]

    package init(mix: Mix, rules: [Rule] = [], layerCount: Int, expertCount: Int = 256, hasImportance: Bool = false, tensorNames: [String] = []) {
        self.mix = mix
        self.rules = rules
        self.layerCount = layerCount
        self.expertCount = expertCount
        self.hasImportance = hasImportance
        ffnDownOrdinals = [:]
        for (i, name) in Self.llamaQuantizeOrder(tensorNames).filter({ $0.contains("ffn_down") }).enumerated() { ffnDownOrdinals[name] = i }
    }

    /// llama-quantize's tensor order (`weight_name_comparer`: the `blk.N.` number, -1 for others,
    /// then the name).
    package static func llamaQuantizeOrder(_ names: [String]) -> [String] {
        func layer(_ name: String) -> Int {
            guard name.hasPrefix("blk."), let dot = name.dropFirst(4).firstIndex(of: "."), let n = Int(name[name.index(name.startIndex, offsetBy: 4)..<dot]) else { return -1 }
            return n
        }
        return names.sorted { a, b in
            let (la, lb) = (layer(a), layer(b))
            return la != lb ? la < lb : a.utf8.lexicographicallyPrecedes(b.utf8)
        }
    }

    /// The rule lines of a recipe file: `REGEX=TYPE` per line; blank lines and `#` comments skipped.
    package static func ruleLines(fromFile path: String) throws -> [String] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw RecipeError.unreadableFile(path)
        }
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    /// Parses `REGEX=TYPE` rule texts (`--type` and recipe-file lines) for one config, layer sets
    /// (`{dense}`, `{moe:N}`) spelled out first.
    package static func rules(_ texts: [String], config: DeepSeekV3Config) throws -> [Rule] {
        try texts.map { try Rule(parsing: expandingLayerSets($0, config: config)) }
    }

    /// A rule with its layer sets spelled out for one config, so a recipe names layers by what they
    /// are rather than by R1's numbers: `{dense}` is the dense-FFN layers (R1's first_k_dense_replace:
    /// `(0|1|2)`), `{moe:N}` the first N MoE layers (R1, N = 3: `(3|4|5)`), `{moe}` every MoE
    /// layer. An empty set never matches. Other braces (regex counts such as `{2}`) are left alone;
    /// an unknown name is an error.
    package static func expandingLayerSets(_ rule: String, config: DeepSeekV3Config) throws -> String {
        let moe = (0..<config.numHiddenLayers).filter(config.isMoELayer)
        let dense = (0..<config.numHiddenLayers).filter { !config.isMoELayer($0) }
        func alternation(_ layers: [Int]) -> String { layers.isEmpty ? "(?!)" : "(" + layers.map(String.init).joined(separator: "|") + ")" }
        var out = "", rest = Substring(rule)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else { out += rest[open...]; rest = ""; break }
            let name = rest[rest.index(after: open)..<close]
            switch name {
            case "dense": out += alternation(dense)
            case "moe": out += alternation(moe)
            case _ where name.hasPrefix("moe:"):
                guard let n = Int(name.dropFirst(4)), n >= 0 else { throw RecipeError.badRule(rule, "{\(name)}: expected {moe:N} with N a count of layers") }
                out += alternation(Array(moe.prefix(n)))
            case _ where name.allSatisfy({ $0.isNumber || $0 == "," }):
                out += rest[open...close]  // a regex count
            default:
                throw RecipeError.badRule(rule, "unknown layer set {\(name)}: use {dense}, {moe} or {moe:N}")
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    /// The chosen type and, when the shape forced a different one, the type that was asked for.
    package func type(for tensor: DeepSeek2Tensor) -> (type: GGMLType, requested: GGMLType?) {
        if tensor.role == .keepF32 { return (.f32, nil) }
        let wanted = rules.first { $0.matches(tensor.name) }?.type ?? mixType(tensor)
        let actual = Self.fallback(wanted, rowLength: tensor.dimensions[0])
        return (actual, actual == wanted ? nil : wanted)
    }

    /// llama.cpp's `use_more_bits(i, n)`.
    static func useMoreBits(_ i: Int, _ n: Int) -> Bool { i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2 }

    func mixType(_ tensor: DeepSeek2Tensor) -> GGMLType {
        let i = tensor.layer ?? 0, n = layerCount
        // llama.cpp's `n_expert == 8` branch: attn_output gets Q5_K in the low-bit mixes.
        if expertCount == 8 && tensor.role == .attentionOutput
            && ([.q2_K, .q3_K_M, .q4_K_M, .iq4_xs, .iq3_xs, .iq3_xxs, .iq3_s, .iq3_m].contains(mix) || mix.isVeryLowBit)
        {
            return .q5_K
        }
        switch mix {
        case .q8_0: return .q8_0
        case .q6_K: return .q6_K
        case .q5_K_M:
            switch tensor.role {
            case .output: return .q6_K
            case .ffnDown: return Self.useMoreBits(i, n) ? .q6_K : .q5_K
            default: return .q5_K
            }
        case .q4_K_M:
            switch tensor.role {
            case .output: return .q6_K
            case .ffnDown: return Self.useMoreBits(i, n) ? .q6_K : .q4_K
            default: return .q4_K
            }
        case .q3_K_M:
            switch tensor.role {
            case .output: return .q6_K
            case .ffnDown: return i < n / 16 ? .q5_K : .q4_K
            case .attentionOutput: return .q4_K
            default: return .q3_K
            }
        case .q2_K:
            switch tensor.role {
            case .output: return .q6_K
            case .ffnDown, .attentionOutput: return .q3_K
            default: return .q2_K
            }
        case .iq4_xs:
            switch tensor.role {
            case .output: return .q6_K
            case .ffnDown: return i < n / 8 && !hasImportance ? .q5_K : .iq4_xs
            default: return .iq4_xs
            }
        case .iq3_m, .iq3_s, .iq3_xs, .iq3_xxs, .iq2_m, .iq2_s, .iq2_xs, .iq2_xxs, .iq1_m, .iq1_s:
            return lowBitType(tensor, layer: i, layers: n)
        case .moeQ4:
            let isRoutedExpert = tensor.name.contains("_exps")
            if isRoutedExpert { return tensor.role == .ffnDown ? .q5_K : .q4_K }
            return .q8_0
        }
    }

    /// llama.cpp's rules for the IQ1/IQ2/IQ3 mixes on `deepseek2` (`llama_tensor_get_type_impl`).
    /// DeepSeek's MLA tensors (`attn_q_a`, `attn_q_b`, `attn_kv_a_mqa`, `attn_k_b`, `attn_v_b`) fall in
    /// none of its categories, and no tensor is an `attn_v`, so they take the mix's default type.
    func lowBitType(_ tensor: DeepSeek2Tensor, layer i: Int, layers n: Int) -> GGMLType {
        let base = mix.defaultType
        switch tensor.role {
        case .output:
            guard base.rowBytes(tensor.dimensions[0]) != nil else { return .q8_0 }
            return [.iq2_xxs, .iq2_xs, .iq3_xxs, .iq1_s, .iq2_s, .iq2_m, .iq1_m].contains(mix) ? .q5_K : .q6_K
        case .tokenEmbedding:
            if [.iq2_xxs, .iq2_xs, .iq1_s, .iq1_m].contains(mix) { return .q2_K }
            if [.iq2_s, .iq2_m, .iq3_xxs].contains(mix) { return .iq3_s }
            return base
        default: break
        }
        if mix.isVeryLowBit {
            let wider = mix == .iq2_s || mix == .iq2_m
            switch tensor.role {
            case .ffnDown: return (ffnDownOrdinals[tensor.name] ?? Int.max) < n / 8 ? (wider ? .iq3_s : .q2_K) : base
            case .attentionOutput: return [.iq1_s, .iq1_m].contains(mix) ? .iq2_xxs : wider ? .iq3_s : base
            default: return base
            }
        }
        switch (mix, tensor.role) {
        case (.iq3_xxs, .ffnDown): return hasImportance ? base : i < n / 8 ? .q4_K : .q3_K
        case (.iq3_xxs, .attentionOutput): return .iq3_s
        case (.iq3_xs, .ffnGate), (.iq3_xs, .ffnUp): return i >= n / 8 && i < 7 * n / 8 ? .iq3_xxs : base
        case (.iq3_m, .ffnDown): return i < n / 8 || (expertCount == 8 && Self.useMoreBits(i, n)) ? .q4_K : base
        case (.iq3_m, .attentionOutput): return .q4_K
        default: return base
        }
    }

    /// llama.cpp's `tensor_type_fallback` when the row length is not a whole number of blocks.
    package static func fallback(_ type: GGMLType, rowLength: Int) -> GGMLType {
        if type.rowBytes(rowLength) != nil { return type }
        let next: GGMLType
        switch type {
        case .iq4_xs, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s, .iq1_s, .iq1_m: next = .iq4_nl
        case .q2_K, .q3_K: next = .q4_0
        case .q4_K: next = .q5_0
        case .q5_K: next = .q5_1
        case .q6_K: next = .q8_0
        default: next = .f16
        }
        return next.rowBytes(rowLength) != nil ? next : .f16
    }
}
