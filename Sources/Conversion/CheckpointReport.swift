import DeepSeekV3
import Foundation
import TensorFiles

/// What `moepack inspect` prints: architecture, parameter counts, bytes by dtype, shards, layout
/// problems, and optionally every tensor.
package struct CheckpointReport {
    package let directory: String
    package let config: DeepSeekV3Config
    package let checkpoint: Checkpoint
    package let layout: CheckpointLayout
    package let check: LayoutCheck

    package init(directory: String) throws {
        self.directory = directory
        config = try DeepSeekV3Config.load(path: directory + "/config.json")
        checkpoint = try Checkpoint(directory: directory)
        layout = CheckpointLayout(config: config)
        check = LayoutCheck(layout: layout, checkpoint: checkpoint)
    }

    package var bytesByDType: [(SafetensorsDType, count: Int, bytes: Int)] {
        var totals: [SafetensorsDType: (Int, Int)] = [:]
        for shard in checkpoint.shards {
            for info in shard.tensors {
                let current = totals[info.dtype] ?? (0, 0)
                totals[info.dtype] = (current.0 + 1, current.1 + info.byteCount)
            }
        }
        return totals.sorted { $0.value.1 > $1.value.1 }.map { ($0.key, $0.value.0, $0.value.1) }
    }

    package func text(listTensors: Bool) -> String {
        let c = config
        let counts = layout.parameterCounts
        var lines: [String] = []
        lines.append("checkpoint  \(directory)")
        lines.append("architecture  \(c.architectures.first ?? "?") (\(c.modelType)), \(check.isFP8 ? "FP8 E4M3 with \(layout.blockSize)x\(layout.blockSize) block scales" : "dense (not FP8)")")
        lines.append("layers  \(c.numHiddenLayers) (\(c.firstKDenseReplace) dense + \(c.numHiddenLayers - c.firstKDenseReplace) MoE) + \(c.numNextNPredictLayers) MTP\(check.absentMTPLayers.isEmpty ? "" : " (absent from the files)")")
        lines.append("hidden  \(c.hiddenSize), vocab \(c.vocabSize), dense FFN \(c.intermediateSize), expert FFN \(c.moeIntermediateSize)")
        lines.append("attention  MLA, \(c.numAttentionHeads) heads, q_lora \(c.qLoraRank), kv_lora \(c.kvLoraRank), qk \(c.qkNopeHeadDim)+\(c.qkRopeHeadDim) rope, v \(c.vHeadDim)")
        lines.append("experts  \(c.nRoutedExperts) routed + \(c.nSharedExperts) shared, top-\(c.numExpertsPerToken) of \(c.topkGroup)/\(c.nGroup) groups, \(c.scoringFunction), scale \(c.routedScalingFactor)")
        if let s = c.ropeScaling {
            lines.append("rope  \(s.type) factor \(s.factor) from \(s.originalMaxPositionEmbeddings), theta \(c.ropeTheta), context \(c.maxPositionEmbeddings)")
        }
        lines.append("parameters  \(formatCount(counts.total)) total = \(formatCount(counts.mainModel)) main + \(formatCount(counts.mtpLayers)) MTP; \(formatCount(counts.activatedPerToken)) activated per token")
        lines.append("shards  \(checkpoint.shards.count), \(checkpoint.tensorCount) tensors, \(formatBytes(checkpoint.dataBytes)) of tensor data")
        for (dtype, count, bytes) in bytesByDType {
            lines.append("  \(dtype.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(String(count).leftPadded(7)) tensors  \(formatBytes(bytes).leftPadded(10))")
        }
        if check.problems.isEmpty {
            lines.append("layout  matches config.json")
        } else {
            lines.append("layout  \(check.problems.count) problem(s):")
            lines += check.problems.prefix(20).map { "  \($0)" }
            if check.problems.count > 20 { lines.append("  ... and \(check.problems.count - 20) more") }
        }
        if listTensors {
            lines.append("")
            for name in checkpoint.tensorNames {
                let info = checkpoint.info(name)!
                let shard = fileName(checkpoint.shard(of: name)!.path)
                lines.append("\(name)  \(info.dtype.rawValue)  \(info.shape)  \(info.byteCount)  \(shard)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    package func json(listTensors: Bool) throws -> String {
        let counts = layout.parameterCounts
        var object: [String: Any] = [
            "directory": directory,
            "architecture": config.architectures.first ?? "",
            "fp8": check.isFP8,
            "layers": config.numHiddenLayers,
            "mtp_layers": config.numNextNPredictLayers,
            "parameters": [
                "total": counts.total, "main_model": counts.mainModel, "mtp": counts.mtpLayers,
                "activated_per_token": counts.activatedPerToken,
            ],
            "shards": checkpoint.shards.map { fileName($0.path) },
            "tensor_count": checkpoint.tensorCount,
            "data_bytes": checkpoint.dataBytes,
            "bytes_by_dtype": Dictionary(uniqueKeysWithValues: bytesByDType.map { ($0.0.rawValue, $0.bytes) }),
            "problems": check.problems.map(\.description),
        ]
        if listTensors {
            object["tensors"] = checkpoint.tensorNames.map { name -> [String: Any] in
                let info = checkpoint.info(name)!
                return ["name": name, "dtype": info.dtype.rawValue, "shape": info.shape, "bytes": info.byteCount,
                        "shard": fileName(checkpoint.shard(of: name)!.path)]
            }
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

package func formatCount(_ count: Int) -> String {
    let value = Double(count)
    if value >= 1e9 { return String(format: "%.2fB", value / 1e9) }
    if value >= 1e6 { return String(format: "%.2fM", value / 1e6) }
    if value >= 1e3 { return String(format: "%.1fK", value / 1e3) }
    return "\(count)"
}

extension String {
    package func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
