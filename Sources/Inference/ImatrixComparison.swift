import TensorFiles

/// How closely two importance matrices of one model agree, as the quantizer sees them: the
/// importance weights (`in_sum2 / count`, cold matrices weighted 1 on both sides) value by value,
/// and the token counts of each routed expert (which differ where two runs route a token differently).
///
/// A value's difference is relative to the second matrix's value, or to a thousandth of its
/// entry's mean weight for values near zero: a column that is almost never active carries no
/// weight either way, and its relative difference would say nothing.
package struct ImatrixComparison: Sendable {
    /// Entries in both matrices, and the values compared in them.
    package var entries: Int
    package var values: Int
    /// Relative differences: median, 99th percentile, largest, and where the largest is.
    package var median: Double
    package var p99: Double
    package var worst: Double
    package var worstAt: String
    /// Routed experts compared (the count groups of expert stacks with as many on both sides), and
    /// those whose token counts differ. A dense weight's one count is every token's, the same in
    /// any two runs over one text.
    package var countGroups: Int
    package var differingCounts: Int
    /// Entries only one of the two has, or with a different number of values.
    package var unmatched: [String]

    package init(_ a: ImportanceMatrix, against b: ImportanceMatrix) {
        var differences: [Double] = []
        var worst = 0.0, worstAt = ""
        var countGroups = 0, differingCounts = 0, entries = 0
        var unmatched = Set(a.entries.keys).symmetricDifference(b.entries.keys)
        for name in a.entries.keys.sorted() {
            guard let mine = a.entries[name], let theirs = b.entries[name] else { continue }
            // Values are compared whenever there are as many: older llama.cpp builds keep one count
            // per head for attn_k_b/attn_v_b where moepack keeps one for the whole weight.
            guard let x = a.weights(for: name, cold: .ones), let y = b.weights(for: name, cold: .ones), x.count == y.count else {
                unmatched.insert(name)
                continue
            }
            entries += 1
            if mine.matrices > 1, mine.matrices == theirs.matrices {
                countGroups += mine.matrices
                differingCounts += zip(mine.counts, theirs.counts).filter { $0 != $1 }.count
            }
            let mean = y.reduce(0.0) { $0 + Double($1) } / Double(max(1, y.count))
            for (i, (u, v)) in zip(x, y).enumerated() {
                let d = Double(abs(u - v)) / max(Double(abs(v)), 1e-3 * mean, 1e-30)
                differences.append(d)
                if d > worst { (worst, worstAt) = (d, "\(name)[\(i)] \(u) vs \(v)") }
            }
        }
        differences.sort()
        self.entries = entries
        values = differences.count
        median = differences.isEmpty ? 0 : differences[differences.count / 2]
        p99 = differences.isEmpty ? 0 : differences[differences.count * 99 / 100]
        self.worst = worst
        self.worstAt = worstAt
        self.countGroups = countGroups
        self.differingCounts = differingCounts
        self.unmatched = unmatched.sorted()
    }
}
