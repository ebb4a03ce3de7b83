import DeepSeekV3
import Foundation

/// Sizes of synthetic DeepSeek-V3-architecture checkpoints. All keep the real model's shape
/// conventions: every linear input width is a multiple of 256 (so GGML's 256-wide k-quant blocks
/// fit, as in R1), `kv_a_proj_with_mqa` has kv_lora_rank + rope rows (partial last 128-block, like
/// R1's 576), a dense prefix, group-limited sigmoid routing, and one MTP layer.
package enum SyntheticPreset: String, CaseIterable, Sendable {
    /// ~9 MB: unit and end-to-end tests.
    case tiny
    /// ~120 MB: quick demos.
    case small
    /// ~1.3 GB: benchmarks and memory-flatness checks.
    case medium

    package var shardCount: Int {
        switch self {
        case .tiny: 3
        case .small: 4
        case .medium: 8
        }
    }

    /// `config.json` of the preset, with the key set and spelling of the DeepSeek-R1 release
    /// (keys sorted, as `transformers` writes them).
    package var configJSON: String {
        switch self {
        case .tiny:
            DeepSeekV3Config.jsonText(
                vocab: 1024, hidden: 256, intermediate: 512, moeIntermediate: 256, layers: 3, dense: 1,
                heads: 4, qLora: 256, kvLora: 256, nope: 64, rope: 32, v: 64, experts: 8, perToken: 2,
                groups: 4, topkGroup: 2)
        case .small:
            DeepSeekV3Config.jsonText(
                vocab: 4096, hidden: 1024, intermediate: 2048, moeIntermediate: 512, layers: 4, dense: 1,
                heads: 8, qLora: 512, kvLora: 256, nope: 64, rope: 32, v: 64, experts: 12, perToken: 4,
                groups: 4, topkGroup: 2)
        case .medium:
            DeepSeekV3Config.jsonText(
                vocab: 16384, hidden: 2048, intermediate: 4096, moeIntermediate: 768, layers: 6, dense: 1,
                heads: 16, qLora: 768, kvLora: 512, nope: 128, rope: 64, v: 128, experts: 32, perToken: 8,
                groups: 8, topkGroup: 4)
        }
    }

    package var config: DeepSeekV3Config {
        // The preset texts are fixed and valid; a failure here is a programming error.
        do { return try DeepSeekV3Config.parse(Data(configJSON.utf8), file: "preset \(rawValue)") } catch {
            preconditionFailure("built-in preset \(rawValue) has an invalid config: \(error)")
        }
    }
}
