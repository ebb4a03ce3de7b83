import Foundation
import TensorFiles

/// An importance-matrix file, either format (GGUF imatrix, legacy .dat): read, then everything
/// `quantize --imatrix` and `merge-imatrix` do with it (weights per entry with both cold-expert
/// policies, adding it to itself, encoding it again).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImatrix(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let path = FuzzInput.file(UnsafeRawBufferPointer(start: data, count: count), name: "x.imatrix")
    guard let (read, slice) = try? ImatrixFile.read(path: path) else { return 0 }
    var matrix = read
    for name in matrix.entries.keys {
        _ = matrix.weights(for: name, cold: .ones)
        _ = matrix.weights(for: name, cold: .layerMean)
    }
    _ = try? ImatrixFile.encode(matrix, slice: slice)
    try? matrix.add(matrix)
    return 0
}
