/// An importance matrix: for every GGUF weight that multiplies activations, the sum of squared
/// input activations per input column of each of its matrices, and how many input rows were seen
/// (llama-imatrix's `in_sum2` and `counts`). Quantizers weight each column's rounding error by the
/// mean of squares `in_sum2 / count` (llama-quantize's `load_imatrix`).
///
/// Sums are kept in exact fixed point (units of 2⁻⁶⁴ in an `Int128`), so adding the sums of two
/// slices of a text gives, bit for bit, the sums of one run over the whole text, whatever the order
/// of the additions (floating-point sums would depend on it). Only the files are F32.
package struct ImportanceMatrix: Sendable, Equatable {
    package struct Entry: Sendable, Equatable {
        /// Values per count: a matrix's input columns (the weight's `ne0`), or, for a 3-D dense
        /// weight (`attn_k_b`, `attn_v_b`, one matrix per head, one count for all as llama-imatrix
        /// keeps it), `ne0 ×` heads, head-major.
        package var columns: Int
        /// Σx² per (count group, column), group-major, in units of 2⁻⁶⁴.
        package var sums: [Int128]
        /// Input rows seen: one count per routed expert of a stack (the tokens sent to it), or a
        /// single count for a dense weight.
        package var counts: [Int64]

        package init(columns: Int, matrices: Int = 1) {
            self.columns = columns
            sums = [Int128](repeating: 0, count: columns * matrices)
            counts = [Int64](repeating: 0, count: matrices)
        }

        /// Count groups: experts of a stack, else 1.
        package var matrices: Int { counts.count }

        /// Σx² of (group, column) as a double.
        package func sum(matrix m: Int, column j: Int) -> Double { ImportanceMatrix.double(sums[m * columns + j]) }
    }

    package var entries: [String: Entry]
    /// The calibration texts, as llama-imatrix lists them (`imatrix.datasets`).
    package var datasets: [String]
    /// Chunks of `chunkSize` tokens the sums cover.
    package var chunkCount: Int
    package var chunkSize: Int

    package init(entries: [String: Entry] = [:], datasets: [String] = [], chunkCount: Int = 0, chunkSize: Int = 0) {
        self.entries = entries
        self.datasets = datasets
        self.chunkCount = chunkCount
        self.chunkSize = chunkSize
    }

    /// 2⁶⁴: one unit of the fixed-point sums is 2⁻⁶⁴.
    static let scale = 18446744073709551616.0
    /// Σx² a fixed-point sum may reach (2⁶², ~4.6·10¹⁸, i.e. 2¹²⁶ units, so the sum of two
    /// never overflows an `Int128`): far beyond real activation statistics (R1's largest inputs
    /// reach ~10⁸ per token, over ~10⁶ calibration tokens).
    package static let largestSum = 4.611686018427387904e18
    static let limit: Int128 = 1 << 126

    /// The fixed-point value of a non-negative double below `largestSum` (nil otherwise).
    package static func fixed(_ value: Double) -> Int128? {
        guard value.isFinite, value >= 0, value < largestSum else { return nil }
        return Int128((value * scale).rounded())
    }

    /// `a + b`, or nil past `largestSum`.
    package static func adding(_ a: Int128, _ b: Int128) -> Int128? {
        let sum = a + b  // both below 2¹²⁶: cannot overflow
        return sum < limit ? sum : nil
    }

    package static func double(_ value: Int128) -> Double { Double(value) / scale }

    /// Adds `other` entry by entry (sums and counts; datasets appended, chunk counts added). The
    /// entries must have the same shapes.
    package mutating func add(_ other: ImportanceMatrix) throws(ImatrixError) {
        for (name, theirs) in other.entries {
            guard var mine = entries[name] else {
                entries[name] = theirs
                continue
            }
            guard mine.columns == theirs.columns, mine.matrices == theirs.matrices else {
                throw .mismatch(entry: name, detail: "\(mine.matrices) × \(mine.columns) values vs \(theirs.matrices) × \(theirs.columns)")
            }
            for i in mine.sums.indices {
                guard let sum = Self.adding(mine.sums[i], theirs.sums[i]) else {
                    throw .mismatch(entry: name, detail: "a sum of squares exceeds \(Self.largestSum)")
                }
                mine.sums[i] = sum
            }
            for i in mine.counts.indices { mine.counts[i] += theirs.counts[i] }
            entries[name] = mine
        }
        datasets += other.datasets.filter { !datasets.contains($0) }
        chunkCount += other.chunkCount
        if chunkSize == 0 { chunkSize = other.chunkSize }
    }

    /// What the quantizer does for a matrix that saw no input rows (a routed expert no calibration
    /// token was sent to).
    package enum ColdMatrixPolicy: String, Sendable, CaseIterable {
        /// The pooled mean of squares of the weight's other matrices: the statistics of the inputs
        /// the layer's warm experts saw. For `ffn_gate_exps`/`ffn_up_exps` this is exactly the
        /// mean over every token of the normalised hidden state all experts (and the router) take
        /// as input, since each token is counted once per expert it is routed to; for
        /// `ffn_down_exps` it is the mean of the warm experts' SwiGLU outputs.
        case layerMean = "layer-mean"
        /// Weight 1 for every column, as llama-quantize does (the equal weighting of no imatrix).
        case ones
    }

    /// The importance weights of one GGUF tensor: `columns` weights per matrix, matrix-major
    /// (`in_sum2 / count`, llama-quantize's values), or nil when the file has no entry for it.
    package func weights(for tensor: String, cold: ColdMatrixPolicy = .layerMean) -> [Float]? {
        guard let entry = entries[tensor] else { return nil }
        let n = entry.columns
        var pooled = [Double](repeating: 0, count: n)
        var pooledCount: Int64 = 0
        if cold == .layerMean, entry.counts.contains(0) {
            for m in 0..<entry.matrices where entry.counts[m] > 0 {
                for j in 0..<n { pooled[j] += entry.sum(matrix: m, column: j) }
                pooledCount += entry.counts[m]
            }
        }
        var values = [Float](repeating: 1, count: n * entry.matrices)
        for m in 0..<entry.matrices {
            let count = entry.counts[m]
            if count > 0 {
                for j in 0..<n { values[m * n + j] = Float(entry.sum(matrix: m, column: j) / Double(count)) }
            } else if cold == .layerMean, pooledCount > 0 {
                for j in 0..<n { values[m * n + j] = Float(pooled[j] / Double(pooledCount)) }
            }
        }
        return values
    }
}

/// A problem with an importance matrix: its file, or its fit to a model.
package enum ImatrixError: Error, CustomStringConvertible, Sendable, Equatable {
    case malformed(file: String, detail: String)
    case mismatch(entry: String, detail: String)

    package var description: String {
        switch self {
        case .malformed(let file, let detail): "\(file): not a valid importance matrix: \(detail)"
        case .mismatch(let entry, let detail): "importance matrix entry \(entry): \(detail)"
        }
    }
}
