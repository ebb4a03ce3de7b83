import DeepSeekV3
import Quants
import TensorFiles

/// The metadata of a `deepseek2` GGUF: `general.*`, the `deepseek2.*` keys of `DeepSeek2Key` (the
/// table the reader uses too) and the vocabulary's `tokenizer.*` keys, as listed in formats/gguf.md
/// "What moepack quantize writes".
package enum DeepSeek2Metadata {
    package static func make(
        config c: DeepSeekV3Config, vocabulary: GGUFVocabulary?, name: String, fileType: UInt32, alignment: UInt32,
        mtpLayers: Int = 0
    ) -> [(key: String, value: GGUFValue)] {
        var m: [(key: String, value: GGUFValue)] = [
            (GGUFKey.architecture, .string(DeepSeek2Key.architecture)),
            (GGUFKey.type, .string("model")),
            (GGUFKey.name, .string(name)),
            (GGUFKey.fileType, .uint32(fileType)),
            (GGUFKey.quantizationVersion, .uint32(2)),
            (GGUFKey.alignment, .uint32(alignment)),
        ]
        m += DeepSeek2Key.metadata(config: c, mtpLayers: mtpLayers)
        if let v = vocabulary {
            m += [
                (GGUFKey.tokenizerModel, .string(v.model)),
                (GGUFKey.tokenizerPre, .string(v.preTokenizer)),
                (GGUFKey.tokens, .array(.string(v.tokens))),
                (GGUFKey.tokenTypes, .array(.int32(v.tokenTypes.map(\.rawValue)))),
                (GGUFKey.merges, .array(.string(v.merges))),
            ]
            if let bos = v.bosTokenId { m.append((GGUFKey.bosTokenID, .uint32(DeepSeek2Key.u32(bos)))) }
            if let eos = v.eosTokenId {
                m.append((GGUFKey.eosTokenID, .uint32(DeepSeek2Key.u32(eos))))
                m.append((GGUFKey.paddingTokenID, .uint32(DeepSeek2Key.u32(eos))))
            }
            m.append((GGUFKey.addBOSToken, .bool(v.addBOS)))
            m.append((GGUFKey.addEOSToken, .bool(v.addEOS)))
            if let template = v.chatTemplate { m.append((GGUFKey.chatTemplate, .string(template))) }
        }
        return m
    }
}
