import DeepSeekV3
import Foundation
import Inference
import Quants
import TensorFiles
import Testing
import TestSupport

/// What to do for routed experts a calibration text never reached, decided on the trained dev
/// checkpoint. For the experts left cold by short calibrations, each policy's weights quantize
/// their rows (Q4_K), and the error is weighted by the importance their inputs really have
/// (measured over the whole held-out text). Found: for gate/up the pooled statistics of the warm
/// experts (`layer-mean`, which equal the hidden state's over all tokens) beat llama-quantize's
/// uniform weights (`ones`); for down (whose input is the expert's own SwiGLU output) they are worse
/// than uniform. moepack's default `hidden-mean` takes the better of the two for each.
@Suite(.enabled(if: TestSupport.devModelAvailable)) struct ColdExpertTests {
    @Test func hiddenMeanBeatsOnesAndLayerMeanOnColdExperts() throws {
        let (checkpoint, textPath) = try #require(TestSupport.devModel)
        let weights = try CheckpointWeights(directory: checkpoint)
        let tokenizer = try BPETokenizer(path: checkpoint)
        let text = [UInt8](try Data(contentsOf: URL(fileURLWithPath: textPath)))
        func imatrix(context: Int, chunks: Range<Int>) throws -> ImportanceMatrix {
            let tokens = TokenChunks(text: text, tokenizer: tokenizer, context: context)
            let collector = ImatrixCollector()
            let model = try DeepSeekV3Model(source: weights, threads: 2, attention: .absorbed, observer: collector)
            _ = try model.logits(chunks: chunks.map(tokens.chunk), positions: 0..<0)
            return try collector.result(datasets: [], chunkCount: chunks.count, chunkSize: context)
        }
        let truth = try imatrix(context: 512, chunks: 0..<12)
        let c = weights.config
        var errors: [ImportanceMatrix.ColdMatrixPolicy: Double] = [:], coldExperts = 0
        var byRole: [String: Double] = [:]
        // Eight short calibrations (64 tokens each, from different parts of the text), each leaving
        // a few experts without a token.
        for trial in 0..<8 {
        let short = try imatrix(context: 64, chunks: (trial * 5)..<(trial * 5 + 1))
        for layer in 0..<c.numHiddenLayers where c.isMoELayer(layer) {
            for (role, part) in [(DeepSeek2Name.ffnGateExps, "gate_proj"), (.ffnUpExps, "up_proj"), (.ffnDownExps, "down_proj")] {
                let name = role.name(layer: layer)
                let shortEntry = try #require(short.entries[name]), trueEntry = try #require(truth.entries[name])
                let real = try #require(truth.weights(for: name, cold: .ones))
                for e in 0..<c.nRoutedExperts where shortEntry.counts[e] == 0 && trueEntry.counts[e] >= 64 {
                    if role == .ffnGateExps { coldExperts += 1 }
                    let hf = "model.layers.\(layer).mlp.experts.\(e).\(part).weight"
                    let (rows, columns) = try weights.shape(of: hf)
                    var row = [Float](repeating: 0, count: columns), decoded = row
                    var bytes = [UInt8](repeating: 0, count: GGMLType.q4_K.rowBytes(columns)!)
                    for policy in ImportanceMatrix.ColdMatrixPolicy.allCases {
                        let w = try #require(short.weights(for: name, cold: policy))
                        var error = 0.0
                        for r in 0..<rows {
                            try row.withUnsafeMutableBufferPointer { try weights.read(hf, rows: r..<(r + 1), into: $0.baseAddress!) }
                            try row.withUnsafeBufferPointer { x in
                                try w.withUnsafeBufferPointer { all in
                                    try bytes.withUnsafeMutableBytes { out in
                                        try GGMLType.q4_K.quantize(row: x, importance: UnsafeBufferPointer(rebasing: all[(e * columns)..<((e + 1) * columns)]), into: out)
                                    }
                                }
                            }
                            try bytes.withUnsafeBytes { b in try decoded.withUnsafeMutableBufferPointer { try GGMLType.q4_K.dequantize(row: b, count: columns, into: $0) } }
                            for j in 0..<columns {
                                let d = Double(row[j] - decoded[j])
                                error += Double(real[e * columns + j]) * d * d
                            }
                        }
                        errors[policy, default: 0] += error
                        byRole["\(role.rawValue) \(policy.rawValue)", default: 0] += error
                    }
                }
            }
        }
        }
        print("cold experts over 8 calibrations of 64 tokens: \(coldExperts); Q4_K error of their rows weighted by their real importance: layer-mean \(errors[.layerMean]!), ones \(errors[.ones]!) (ratio \(errors[.layerMean]! / errors[.ones]!))")
        // moepack's default: the pooled statistics for gate/up (the hidden state's), 1s for down.
        let gateUp = { (p: String) in byRole["ffn_gate_exps \(p)"]! + byRole["ffn_up_exps \(p)"]! }
        let hiddenMean = gateUp("layer-mean") + byRole["ffn_down_exps ones"]!
        print("  by stack: \(byRole.sorted(by: { $0.key < $1.key }).map { "\($0.key) \(String(format: "%.3f", $0.value))" }.joined(separator: ", ")); hidden-mean \(hiddenMean)")
        #expect(coldExperts >= 8)
        #expect(gateUp("layer-mean") < gateUp("ones"))
        #expect(byRole["ffn_down_exps ones"]! < byRole["ffn_down_exps layer-mean"]!)
        #expect(hiddenMean < errors[.ones]! && hiddenMean < errors[.layerMean]!)
    }
}
