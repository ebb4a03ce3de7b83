import DeepSeekV3
import Foundation
import Quants

/// Which GGML type each GGUF tensor gets: user rules first (`REGEX=TYPE`, first match wins), then
/// a built-in mix named like llama.cpp's, then llama.cpp's shape fallback when a row is not a whole
/// number of the chosen type's blocks. Norms, the router and its bias always stay F32 (llama.cpp
/// never quantizes them).
public struct QuantRecipe: Sendable {
    /// Built-in mixes, with llama.cpp's rules for `deepseek2` (`llama_tensor_get_type`, see
    /// ../shared/REFERENCE.md "llama-quantize: types and default mixes"; DeepSeek's 256 experts get
    /// none of the 8-expert special cases).
    public enum Mix: String, CaseIterable, Sendable {
        case q8_0 = "Q8_0", q6_K = "Q6_K", q5_K_M = "Q5_K_M", q4_K_M = "Q4_K_M", q3_K_M = "Q3_K_M", q2_K = "Q2_K"
        case iq4_xs = "IQ4_XS"
        /// MoE-aware: routed experts Q4_K (down Q5_K), everything else Q8_0 — the DeepSeek community's
        /// "high attention, low experts" shape.
        case moeQ4 = "MOE_Q4"

        public init?(argument: String) {
            guard let mix = Self.allCases.first(where: { $0.rawValue.lowercased() == argument.lowercased() }) else { return nil }
            self = mix
        }

        /// llama.cpp's `general.file_type` (LlamaFileType) for the mix.
        public var fileType: UInt32 {
            switch self {
            case .q8_0: 7
            case .q6_K: 18
            case .q5_K_M: 17
            case .q4_K_M, .moeQ4: 15
            case .q3_K_M: 12
            case .q2_K: 10
            case .iq4_xs: 30
            }
        }
    }

    public struct Rule: Sendable {
        public var pattern: String
        public var type: GGMLType
        let regex: NSRegularExpression

        /// Parses `REGEX=TYPE` (as llama-quantize's `--tensor-type`).
        public init(parsing text: String) throws {
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

        func matches(_ name: String) -> Bool {
            regex.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
        }
    }

    public enum RecipeError: Error, CustomStringConvertible, Sendable {
        case badRule(String, String)
        case unreadableFile(String)
        public var description: String {
            switch self {
            case .badRule(let rule, let why): "--type '\(rule)': \(why)"
            case .unreadableFile(let path): "\(path): cannot read the recipe file"
            }
        }
    }

    public var mix: Mix
    public var rules: [Rule]
    public var layerCount: Int
    /// llama.cpp special-cases models with exactly 8 experts (Mixtral); R1's 256 never hit it.
    public var expertCount: Int

    public init(mix: Mix, rules: [Rule] = [], layerCount: Int, expertCount: Int = 256) {
        self.mix = mix
        self.rules = rules
        self.layerCount = layerCount
        self.expertCount = expertCount
    }

    /// The rule lines of a recipe file: `REGEX=TYPE` per line; blank lines and `#` comments skipped.
    public static func ruleLines(fromFile path: String) throws -> [String] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw RecipeError.unreadableFile(path)
        }
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    /// The chosen type and, when the shape forced a different one, the type that was asked for.
    public func type(for tensor: DeepSeek2Tensor) -> (type: GGMLType, requested: GGMLType?) {
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
        if expertCount == 8 && tensor.role == .attentionOutput && [.q2_K, .q3_K_M, .q4_K_M, .iq4_xs].contains(mix) {
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
            case .ffnDown: return i < n / 8 ? .q5_K : .iq4_xs
            default: return .iq4_xs
            }
        case .moeQ4:
            let isRoutedExpert = tensor.name.contains("_exps")
            if isRoutedExpert { return tensor.role == .ffnDown ? .q5_K : .q4_K }
            return .q8_0
        }
    }

    /// llama.cpp's `tensor_type_fallback` when the row length is not a whole number of blocks.
    public static func fallback(_ type: GGMLType, rowLength: Int) -> GGMLType {
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
