/// The architecture-independent GGUF keys moepack writes and reads, each written once (gguf-py
/// `constants.py` `Keys.General` and `Keys.Tokenizer`). The `deepseek2.*` keys are in
/// `DeepSeekV3/DeepSeek2Keys.swift`.
package enum GGUFKey {
    package static let architecture = "general.architecture"
    package static let type = "general.type"
    package static let name = "general.name"
    package static let fileType = "general.file_type"
    package static let quantizationVersion = "general.quantization_version"
    package static let alignment = "general.alignment"

    package static let tokenizerModel = "tokenizer.ggml.model"
    package static let tokenizerPre = "tokenizer.ggml.pre"
    package static let tokens = "tokenizer.ggml.tokens"
    package static let tokenTypes = "tokenizer.ggml.token_type"
    package static let merges = "tokenizer.ggml.merges"
    package static let bosTokenID = "tokenizer.ggml.bos_token_id"
    package static let eosTokenID = "tokenizer.ggml.eos_token_id"
    package static let paddingTokenID = "tokenizer.ggml.padding_token_id"
    package static let addBOSToken = "tokenizer.ggml.add_bos_token"
    package static let addEOSToken = "tokenizer.ggml.add_eos_token"
    package static let chatTemplate = "tokenizer.chat_template"
}

extension GGUFValue {
    /// The value of a scalar number (booleans as 0 and 1), widened to `Double`; nil for strings and
    /// arrays. Readers use it to accept a count or a size whatever integer or float type a writer
    /// chose.
    package var number: Double? {
        switch self {
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
        case .string, .array: nil
        }
    }
}
