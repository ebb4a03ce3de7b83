import DeepSeekV3
import Quants

/// A model whose weights are another source's except for a few GGUF tensors, which are returned as
/// their GGML type would give them back: each row quantized (with its matrix's importance weights)
/// and dequantized on the fly. `quantize --target-size` measures each tensor's sensitivity with it:
/// one tensor degraded, everything else the FP8 original.
///
/// Only tensors whose rows are Hugging Face rows can be degraded (`.tensor`, `.stacked`);
/// `attn_k_b`/`attn_v_b`, built from `kv_b_proj` by transposing and splitting, are not.
package final class DegradedWeights: WeightSource, @unchecked Sendable {
    struct Degraded {
        var type: GGMLType
        /// The importance weights of this HF weight's rows (its matrix's slice), if any.
        var importance: [Float]?
    }

    package let base: any WeightSource
    let degraded: [String: Degraded]
    package let label: String

    /// - Parameters:
    ///   - base: where every weight comes from.
    ///   - tensors: the GGUF tensors to degrade, each with its type and its importance weights
    ///     (`columns` per matrix, matrix-major, as `ImportanceMatrix.weights(for:)` gives them).
    package init(base: any WeightSource, degrading tensors: [(tensor: DeepSeek2Tensor, type: GGMLType, importance: [Float]?)]) throws(WeightError) {
        self.base = base
        var map: [String: Degraded] = [:]
        for (tensor, type, importance) in tensors {
            let columns = tensor.dimensions[0]
            guard type.rowBytes(columns) != nil, type.format != nil else {
                throw WeightError(file: base.label, tensor: tensor.name, message: "\(type.name) cannot hold rows of \(columns)")
            }
            func slice(_ m: Int) -> [Float]? {
                guard let importance, importance.count >= (m + 1) * columns else { return nil }
                return Array(importance[(m * columns)..<((m + 1) * columns)])
            }
            switch tensor.source {
            case .tensor(let name): map[name] = Degraded(type: type, importance: slice(0))
            case .stacked(let names):
                for (m, name) in names.enumerated() { map[name] = Degraded(type: type, importance: slice(m)) }
            case .keyFromKVB, .valueFromKVB:
                throw WeightError(file: base.label, tensor: tensor.name, message: "built from kv_b_proj: cannot be degraded alone")
            }
        }
        degraded = map
        label = base.label + " (" + tensors.map { "\($0.tensor.name) \($0.type.name)" }.joined(separator: ", ") + ")"
    }

    package var config: DeepSeekV3Config { base.config }
    package var byteCount: Int { base.byteCount }
    package func shape(of name: String) throws(WeightError) -> (rows: Int, columns: Int) { try base.shape(of: name) }
    package func prefetch(_ names: [String]) { base.prefetch(names) }
    package func release(_ names: [String]) { base.release(names) }

    package func read(_ name: String, rows: Range<Int>, into output: UnsafeMutablePointer<Float>) throws(WeightError) {
        try base.read(name, rows: rows, into: output)
        guard let d = degraded[name] else { return }
        let columns = try base.shape(of: name).columns
        let rowBytes = d.type.rowBytes(columns)!
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: rowBytes, alignment: 64)
        defer { bytes.deallocate() }
        for r in 0..<rows.count {
            let row = UnsafeMutableBufferPointer(start: output + r * columns, count: columns)
            do {
                if let weights = d.importance {
                    try weights.withUnsafeBufferPointer { (w) throws(QuantizationError) in
                        try d.type.quantize(row: UnsafeBufferPointer(row), importance: w, into: bytes)
                    }
                } else {
                    try d.type.quantize(row: UnsafeBufferPointer(row), importance: nil, into: bytes)
                }
                try d.type.dequantize(row: UnsafeRawBufferPointer(bytes), count: columns, into: row)
            } catch {
                throw WeightError(file: base.label, tensor: name, message: "row \(rows.lowerBound + r) as \(d.type.name): \(error)")
            }
        }
    }
}
