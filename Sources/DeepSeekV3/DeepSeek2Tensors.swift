import Quants

/// How llama.cpp's `deepseek2` architecture names and shapes a DeepSeek-V3 checkpoint's tensors
/// (`src/models/deepseek2.cpp`, `convert_hf_to_gguf.py` `DeepseekV2Model`), and where each
/// GGUF tensor's rows come from in the Hugging Face checkpoint.
package struct DeepSeek2Tensor: Sendable {
    /// Where the F32 rows of a GGUF tensor come from.
    package enum Source: Sendable, Equatable {
        /// The rows of one HF tensor as they are (a 2-D weight, or a 1-D vector as one row).
        case tensor(String)
        /// Expert matrices stacked on the slowest axis: all rows of `names[0]`, then `names[1]`, ...
        case stacked([String])
        /// `attn_k_b` from `kv_b_proj` `[heads·(nope+v), kvLora]`: per head, the nope rows
        /// transposed, giving rows of `nope` values for each of the `kvLora` latent columns.
        case keyFromKVB(String, heads: Int, nope: Int, v: Int, kvLora: Int)
        /// `attn_v_b` from `kv_b_proj`: per head, its `v` value rows (length `kvLora`).
        case valueFromKVB(String, heads: Int, nope: Int, v: Int, kvLora: Int)

        /// How `attn_k_b`/`attn_v_b` split their `kv_b_proj`; nil for the other sources.
        package var split: KVBSplit? {
            switch self {
            case .keyFromKVB(_, let heads, let nope, let v, let kvLora), .valueFromKVB(_, let heads, let nope, let v, let kvLora):
                KVBSplit(heads: heads, nope: nope, v: v, kvLora: kvLora)
            case .tensor, .stacked: nil
            }
        }
    }

    package enum QuantizationRole: Sendable, Equatable {
        /// Never quantized (norms, router, router bias): F32.
        case keepF32
        case tokenEmbedding, output, attention, attentionOutput, ffnGate, ffnUp, ffnDown
    }

    package var name: String
    /// ggml order.
    package var dimensions: [Int]
    package var source: Source
    package var role: QuantizationRole
    package var layer: Int?

    /// Rows of `dimensions[0]` values.
    package var rowCount: Int { dimensions.dropFirst().reduce(1, *) }

    /// The GGUF tensors of a config's trunk and, with `keepMTP`, its multi-token-prediction layers as
    /// llama.cpp's loader names them (`blk.{n}.nextn.*` plus a full block; `src/models/deepseek2.cpp`).
    package static func plan(_ c: DeepSeekV3Config, keepMTP: Bool = false) -> [DeepSeek2Tensor] {
        let h = c.hiddenSize
        var list: [DeepSeek2Tensor] = [
            .init(name: DeepSeek2Name.tokenEmbedding, dimensions: [h, c.vocabSize], source: .tensor(CheckpointName.embedding), role: .tokenEmbedding),
            .init(name: DeepSeek2Name.outputNorm, dimensions: [h], source: .tensor(CheckpointName.finalNorm), role: .keepF32),
            .init(name: DeepSeek2Name.output, dimensions: [h, c.vocabSize], source: .tensor(CheckpointName.head(tiedToEmbedding: c.tieWordEmbeddings)), role: .output),
        ]
        let blocks = c.numHiddenLayers + (keepMTP ? c.numNextNPredictLayers : 0)
        for i in 0..<blocks {
            func hf(_ tensor: CheckpointName.Layer) -> String { tensor.name(layer: i) }
            func hf(_ mlp: CheckpointName.MLP, _ projection: CheckpointName.Projection) -> String { CheckpointName.mlp(mlp, projection, layer: i) }
            func add(_ name: DeepSeek2Name, _ dims: [Int], _ source: Source, _ role: QuantizationRole) {
                list.append(.init(name: name.name(layer: i), dimensions: dims, source: source, role: role, layer: i))
            }
            func add(nextn name: String, _ dims: [Int], _ source: Source, _ role: QuantizationRole) {
                list.append(.init(name: "blk.\(i).nextn.\(name).weight", dimensions: dims, source: source, role: role, layer: i))
            }
            add(.attnNorm, [h], .tensor(hf(.inputNorm)), .keepF32)
            add(.attnQA, [h, c.qLoraRank], .tensor(hf(.qA)), .attention)
            add(.attnQANorm, [c.qLoraRank], .tensor(hf(.qANorm)), .keepF32)
            add(.attnQB, [c.qLoraRank, c.numAttentionHeads * c.qkHeadDim], .tensor(hf(.qB)), .attention)
            add(.attnKVAMQA, [h, c.kvLoraRank + c.qkRopeHeadDim], .tensor(hf(.kvA)), .attention)
            add(.attnKVANorm, [c.kvLoraRank], .tensor(hf(.kvANorm)), .keepF32)
            let kvb = hf(.kvB)
            add(.attnKB, [c.qkNopeHeadDim, c.kvLoraRank, c.numAttentionHeads],
                .keyFromKVB(kvb, heads: c.numAttentionHeads, nope: c.qkNopeHeadDim, v: c.vHeadDim, kvLora: c.kvLoraRank), .attention)
            add(.attnVB, [c.kvLoraRank, c.vHeadDim, c.numAttentionHeads],
                .valueFromKVB(kvb, heads: c.numAttentionHeads, nope: c.qkNopeHeadDim, v: c.vHeadDim, kvLora: c.kvLoraRank), .attention)
            add(.attnOutput, [c.numAttentionHeads * c.vHeadDim, h], .tensor(hf(.attentionOutput)), .attentionOutput)
            add(.ffnNorm, [h], .tensor(hf(.postAttentionNorm)), .keepF32)
            if c.isMoELayer(i) {
                let e = c.nRoutedExperts, f = c.moeIntermediateSize
                add(.ffnGateInp, [h, e], .tensor(hf(.router)), .keepF32)
                add(.expProbsB, [e], .tensor(hf(.routerBias)), .keepF32)
                func experts(_ projection: CheckpointName.Projection) -> Source { .stacked((0..<e).map { hf(.expert($0), projection) }) }
                add(.ffnGateExps, [h, f, e], experts(.gate), .ffnGate)
                add(.ffnUpExps, [h, f, e], experts(.up), .ffnUp)
                add(.ffnDownExps, [f, h, e], experts(.down), .ffnDown)
                if c.nSharedExperts > 0 {
                    let s = f * c.nSharedExperts
                    add(.ffnGateShexp, [h, s], .tensor(hf(.shared, .gate)), .ffnGate)
                    add(.ffnUpShexp, [h, s], .tensor(hf(.shared, .up)), .ffnUp)
                    add(.ffnDownShexp, [s, h], .tensor(hf(.shared, .down)), .ffnDown)
                }
            } else {
                add(.ffnGate, [h, c.intermediateSize], .tensor(hf(.dense, .gate)), .ffnGate)
                add(.ffnUp, [h, c.intermediateSize], .tensor(hf(.dense, .up)), .ffnUp)
                add(.ffnDown, [c.intermediateSize, h], .tensor(hf(.dense, .down)), .ffnDown)
            }
            if i >= c.numHiddenLayers {
                add(nextn: "eh_proj", [2 * h, h], .tensor(hf(.mtpProjection)), .attention)
                add(nextn: "enorm", [h], .tensor(hf(.mtpEmbeddingNorm)), .keepF32)
                add(nextn: "hnorm", [h], .tensor(hf(.mtpHiddenNorm)), .keepF32)
                add(nextn: "embed_tokens", [h, c.vocabSize], .tensor(hf(.mtpEmbedding)), .tokenEmbedding)
                add(nextn: "shared_head_head", [h, c.vocabSize], .tensor(hf(.mtpHead)), .output)
                add(nextn: "shared_head_norm", [h], .tensor(hf(.mtpHeadNorm)), .keepF32)
            }
        }
        return list
    }
}
