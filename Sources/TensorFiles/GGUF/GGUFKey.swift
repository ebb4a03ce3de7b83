/// The architecture-independent GGUF keys moepack writes and reads, each written once (gguf-py
/// `constants.py` `Keys.General` and `Keys.Tokenizer`). The `deepseek2.*` keys are in
/// `DeepSeekV3/DeepSeek2Keys.swift`.
public enum GGUFKey {
    public static let architecture = "general.architecture"
    public static let type = "general.type"
    public static let name = "general.name"
    public static let fileType = "general.file_type"
    public static let quantizationVersion = "general.quantization_version"
    public static let alignment = "general.alignment"

    public static let tokenizerModel = "tokenizer.ggml.model"
    public static let tokenizerPre = "tokenizer.ggml.pre"
    public static let tokens = "tokenizer.ggml.tokens"
    public static let tokenTypes = "tokenizer.ggml.token_type"
    public static let merges = "tokenizer.ggml.merges"
    public static let bosTokenID = "tokenizer.ggml.bos_token_id"
    public static let eosTokenID = "tokenizer.ggml.eos_token_id"
    public static let paddingTokenID = "tokenizer.ggml.padding_token_id"
    public static let addBOSToken = "tokenizer.ggml.add_bos_token"
    public static let addEOSToken = "tokenizer.ggml.add_eos_token"
    public static let chatTemplate = "tokenizer.chat_template"
}

extension GGUFValue {
    /// The value of a scalar number (booleans as 0 and 1), widened to `Double`; nil for strings and
    /// arrays. Readers use it to accept a count or a size whatever integer or float type a writer
    /// chose.
    public var number: Double? {
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
