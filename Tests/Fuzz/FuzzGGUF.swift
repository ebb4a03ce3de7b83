import Foundation
import Inference
import TensorFiles

/// A GGUF file: header, metadata, tensor infos; then the deepseek2 config and tensor map, the
/// embedded tokenizer, and every tensor's bytes hashed (what `check` does).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let path = FuzzInput.file(UnsafeRawBufferPointer(start: data, count: count), name: "x.gguf")
    guard let file = try? GGUFFile(path: path) else { return 0 }
    for tensor in file.tensors { _ = XXH3Hasher.hash(file.bytes(of: tensor)) }
    if let weights = try? GGUFWeights(path: path) {
        _ = weights.label
        _ = try? weights.tokenizer()
    }
    return 0
}
