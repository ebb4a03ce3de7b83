import DeepSeekV3
import Foundation
import Inference
import Quants
import Synchronization
import TensorFiles

/// The measured cost model of `quantize --target-size` (formats/allocation.md): for every free GGUF
/// tensor `t` and candidate type, predicted ΔKLD(t, type) = s(t) · e(t, type), where
///
/// - e(t, type) is the importance-weighted relative quantization error of `t` at `type` on sampled
///   rows: Σ w·(x − q)² / Σ w·x², with `w` the tensor's importance weights (1 without an entry);
/// - s(t) is the tensor's sensitivity: the mean KLD against the original when `t` alone is
///   degraded to a probe type (everything else the FP8 original), divided by e(t, probe).
///
/// The predicted KLD of a file is the sum over its tensors (fixed tensors count 0: they are not
/// part of the choice).
package struct AllocationCostModel: Sendable {
    package struct Cost: Sendable {
        package var name: String
        /// e(t, type) for each candidate type.
        package var errors: [GGMLType: Double]
        /// ΔKLD per unit of relative error.
        package var sensitivity: Double
        package var state: State

        /// Where `sensitivity` comes from.
        package enum State: String, Sendable {
            /// An engine pass with this tensor degraded.
            case measured
            /// Its role's measured layers, interpolated by layer index.
            case interpolated
            /// Not yet known: only in the resume file of an unfinished measurement.
            case pending
        }

        package func predicted(_ type: GGMLType) -> Double { sensitivity * (errors[type] ?? .infinity) }
    }

    package var costs: [String: Cost]

    package init(costs: [String: Cost]) { self.costs = costs }

    // MARK: - Relative error on sampled rows

    /// e(t, type) for each type: rows spread evenly over the tensor (so over every expert of a
    /// stack), at most `sampleRows` of them.
    static func relativeErrors(
        of tensor: DeepSeek2Tensor, types: [GGMLType], importance: [Float]?, reader: RowReader, sampleRows: Int, threads: Int
    ) throws -> [GGMLType: Double] {
        let columns = tensor.dimensions[0]
        let rowsPerMatrix = tensor.dimensions.count > 1 ? tensor.dimensions[1] : 1
        let n = min(sampleRows, tensor.rowCount)
        let rows = (0..<n).map { ($0 * tensor.rowCount + tensor.rowCount / (2 * n)) / n }
        var values = [Float](repeating: 0, count: n * columns)
        try values.withUnsafeMutableBufferPointer { buffer in
            for (i, r) in rows.enumerated() { try reader.fill(tensor.source, row: r, columns: columns, into: buffer.baseAddress! + i * columns) }
        }
        reader.release(tensor.source)  // the sampled rows are copied; as the converter does after each tensor
        do {
            return try relativeErrors(rows: values, columns: columns, types: types, importance: importance, matrices: rows.map { $0 / rowsPerMatrix }, threads: threads)
        } catch let failure as TypedFailure {
            throw ConversionError.unsupportedTensor(file: "-", tensor: tensor.name, detail: "\(failure.type.name): \(failure.error)")
        }
    }

    /// A quantizer's failure on one row, with the type it was quantizing to.
    struct TypedFailure: Error {
        var type: GGMLType
        var error: any Error
    }

    /// e per type over rows of `columns` values (`values`, row-major): Σ w·(x − q)² / Σ w·x²
    /// over all rows, with row i weighted by matrix `matrices[i]` of `importance` (w = 1 without).
    /// Work is split by (type, row); each thread's sums are added in thread order, so the result
    /// does not depend on which thread finishes first.
    static func relativeErrors(
        rows values: [Float], columns: Int, types: [GGMLType], importance: [Float]?, matrices: [Int], threads: Int
    ) throws -> [GGMLType: Double] {
        let n = values.count / max(columns, 1)
        let work = types.flatMap { type in (0..<n).map { (type, $0) } }
        let partial = Mutex<[Int: [GGMLType: (Double, Double)]]>([:])  // by the range's first item
        let failure = Mutex<TypedFailure?>(nil)
        parallelFor(work.count, threads: threads) { range in
            var local: [GGMLType: (Double, Double)] = [:]
            var decoded = [Float](repeating: 0, count: columns)
            for w in range {
                let (type, i) = work[w]
                do {
                    try values.withUnsafeBufferPointer { all in
                        try importance.withUnsafeBufferPointerIfPresent { weights in
                            let m = matrices[i]
                            let (error, norm) = try weightedErrors(
                                of: UnsafeBufferPointer(rebasing: all[(i * columns)..<((i + 1) * columns)]), at: type,
                                importance: weights.map { UnsafeBufferPointer(rebasing: $0[(m * columns)..<((m + 1) * columns)]) },
                                scratch: &decoded)
                            local[type, default: (0, 0)].0 += error
                            local[type, default: (0, 0)].1 += norm
                        }
                    }
                } catch {
                    failure.withLock { if $0 == nil { $0 = TypedFailure(type: type, error: error) } }
                }
            }
            partial.withLock { $0[range.lowerBound] = local }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        var sums: [GGMLType: (Double, Double)] = [:]
        for (_, local) in partial.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            for (k, v) in local { sums[k, default: (0, 0)].0 += v.0; sums[k, default: (0, 0)].1 += v.1 }
        }
        return sums.mapValues { $0.1 > 0 ? $0.0 / $0.1 : 0 }
    }

    /// Σ w·(x − q)² and Σ w·x² of one row quantized to `type` and decoded back (w = 1 without
    /// importance weights); `scratch` holds the decoded row.
    static func weightedErrors(
        of row: UnsafeBufferPointer<Float>, at type: GGMLType, importance: UnsafeBufferPointer<Float>?, scratch decoded: inout [Float]
    ) throws -> (error: Double, norm: Double) {
        let columns = row.count
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: type.rowBytes(columns)!, alignment: 64)
        defer { bytes.deallocate() }
        try type.quantize(row: row, importance: importance, into: bytes)
        try decoded.withUnsafeMutableBufferPointer { out in try type.dequantize(row: UnsafeRawBufferPointer(bytes), count: columns, into: out) }
        var error = 0.0, norm = 0.0
        for j in 0..<columns {
            let weight = importance.map { Double($0[j]) } ?? 1
            let x = Double(row[j]), d = x - Double(decoded[j])
            error += weight * d * d
            norm += weight * x * x
        }
        return (error, norm)
    }

    // MARK: - Without weights

    /// A cost model that needs no weights: e(t, type) measured on `sampleRows` synthetic rows of
    /// t's row length (bell-shaped with heavy tails, `SplitMix64.heavyTailedSample`, no importance
    /// weights), every sensitivity 1. It plans sizes and layouts on a config alone (R1's
    /// `config.json` before downloading 640 GB) and tests the solver at full scale; the KLD it
    /// predicts is not a KLD.
    package static func synthetic(tensors: [(tensor: DeepSeek2Tensor, types: [GGMLType])], sampleRows: Int, threads: Int) throws -> AllocationCostModel {
        var byLength: [Int: Set<GGMLType>] = [:]
        for (t, types) in tensors { byLength[t.dimensions[0], default: []].formUnion(types) }
        var errors: [Int: [GGMLType: Double]] = [:]
        for (columns, types) in byLength.sorted(by: { $0.key < $1.key }) {
            var values = [Float](repeating: 0, count: sampleRows * columns)
            var random = SplitMix64(seed: SplitMix64.derive(7, "allocation rows", columns))
            for i in values.indices { values[i] = random.heavyTailedSample() * 0.02 }
            do {
                errors[columns] = try relativeErrors(
                    rows: values, columns: columns, types: types.sorted { $0.rawValue < $1.rawValue }, importance: nil,
                    matrices: Array(repeating: 0, count: sampleRows), threads: threads)
            } catch let failure as TypedFailure {
                throw failure.error
            }
        }
        var costs: [String: Cost] = [:]
        for (t, types) in tensors {
            let table = errors[t.dimensions[0]]!
            costs[t.name] = Cost(name: t.name, errors: table.filter { types.contains($0.key) }, sensitivity: 1, state: .measured)
        }
        return AllocationCostModel(costs: costs)
    }

    // MARK: - Layer interpolation

    /// The tensor's name with its layer replaced by `*` (`blk.*.attn_q_a.weight`): tensors of one
    /// role in different layers share it.
    static func roleKey(_ name: String) -> String {
        guard name.hasPrefix("blk."), let dot = name.dropFirst(4).firstIndex(of: ".") else { return name }
        return "blk.*" + name[dot...]
    }

    /// Layers to measure when not all are: every dense layer, the first MoE layer, and `count`
    /// evenly spaced layers through the last one. Other layers take their role's sensitivity
    /// interpolated linearly in the layer index between the nearest measured layers.
    package static func representativeLayers(layerCount: Int, denseLayers: Int, count: Int) -> Set<Int> {
        guard layerCount > count + denseLayers + 1 else { return Set(0..<layerCount) }
        var layers = Set(0..<min(denseLayers, layerCount))
        layers.insert(min(denseLayers, layerCount - 1))
        for i in 0..<count { layers.insert(denseLayers + (layerCount - 1 - denseLayers) * (i + 1) / count) }
        return layers
    }

    /// s(t) for an unmeasured layer `layer` from the measured (layer, s) pairs of its role.
    package static func interpolate(_ points: [(layer: Int, s: Double)], at layer: Int) -> Double? {
        let sorted = points.sorted { $0.layer < $1.layer }
        guard let first = sorted.first, let last = sorted.last else { return nil }
        if layer <= first.layer { return first.s }
        if layer >= last.layer { return last.s }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.layer <= layer && layer <= b.layer {
            if a.layer == b.layer { return a.s }
            let f = Double(layer - a.layer) / Double(b.layer - a.layer)
            return a.s + f * (b.s - a.s)
        }
        return last.s
    }

    // MARK: - Saved costs

    /// One line per tensor: `name sensitivity state type=error ...`, after a fingerprint line, so
    /// a later fit (another target) reuses the measurement, and an interrupted one resumes (its
    /// resume file has `pending` tensors).
    func text(fingerprint: String) -> String {
        var lines = ["# moepack allocation costs v1 " + fingerprint]
        for name in costs.keys.sorted() {
            let c = costs[name]!
            let errors = c.errors.keys.sorted { $0.rawValue < $1.rawValue }.map { "\($0.name)=\(c.errors[$0]!)" }
            lines.append(([name, "\(c.sensitivity)", c.state.rawValue] + errors).joined(separator: " "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The costs saved by `text(fingerprint:)`, or nil if the file is missing, malformed or of
    /// another measurement.
    static func load(path: String, fingerprint: String) -> AllocationCostModel? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var lines = text.split(separator: "\n")
        guard lines.first.map(String.init) == "# moepack allocation costs v1 " + fingerprint else { return nil }
        lines.removeFirst()
        var costs: [String: Cost] = [:]
        for line in lines {
            let words = line.split(separator: " ").map(String.init)
            guard words.count >= 3, let s = Double(words[1]), s.isFinite, s >= 0, let state = Cost.State(rawValue: words[2]) else { return nil }
            var errors: [GGMLType: Double] = [:]
            for word in words.dropFirst(3) {
                let parts = word.split(separator: "=")
                guard parts.count == 2, let type = GGMLType(name: String(parts[0])), let e = Double(parts[1]), e.isFinite, e >= 0 else { return nil }
                errors[type] = e
            }
            costs[words[0]] = Cost(name: words[0], errors: errors, sensitivity: s, state: state)
        }
        return AllocationCostModel(costs: costs)
    }
}
