import DeepSeekV3
import Foundation
import Inference

/// config.json: parse and validate, then everything that derives sizes from a config (the
/// checkpoint layout's tensor list, the GGUF tensor plan, YaRN tables, the softmax scale).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    guard let config = try? DeepSeekV3Config.parse(Data(bytes: data, count: count), file: "fuzz.json") else { return 0 }
    let layout = CheckpointLayout(config: config)
    _ = layout.storedBytes
    _ = layout.parameterCounts
    _ = DeepSeek2Tensor.plan(config).count
    let rotary = YaRNRotary(config: config)
    _ = rotary.table(positions: 4)
    _ = YaRNRotary.softmaxScale(config: config)
    return 0
}
