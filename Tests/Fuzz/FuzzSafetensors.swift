import Foundation
import TensorFiles

/// A safetensors file: header, tensor table, data ranges; every tensor's bytes are touched.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let path = FuzzInput.file(UnsafeRawBufferPointer(start: data, count: count), name: "x.safetensors")
    guard let file = try? SafetensorsFile(path: path) else { return 0 }
    var sum: UInt8 = 0
    for info in file.tensors {
        for byte in file.bytes(of: info).prefix(64) { sum &+= byte }
        _ = info.elementCount
    }
    _ = file.headerFingerprint
    return CInt(sum & 0)
}
