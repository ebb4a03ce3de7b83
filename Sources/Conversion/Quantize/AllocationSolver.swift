/// The exact solver behind `quantize --target-size`: a multiple-choice knapsack. Each item (a GGUF
/// tensor) must take exactly one of its options (a type: bytes in the file, predicted ΔKLD); the
/// total bytes must not exceed the budget; the sum of costs is minimised.
///
/// Dynamic programming over byte buckets: every option's size is rounded *up* to whole buckets and
/// the budget *down*, so a solution that fits in buckets always fits in bytes (the result is never
/// above the target). The rounding can leave up to `items × bucket` bytes of the budget unused (for
/// R1's ~700 free tensors at 180 GB and 20,000 buckets, up to 3.5%), so a final pass spends the
/// remainder in exact bytes: while some item's change of option fits, the one that lowers the cost
/// most is made. Time is O(items × buckets × options), memory one byte per (item, bucket).
package enum AllocationSolver {
    package struct Option: Sendable, Equatable {
        package var bytes: Int
        package var cost: Double
        package init(bytes: Int, cost: Double) {
            self.bytes = bytes
            self.cost = cost
        }
    }

    package struct Solution: Sendable, Equatable {
        /// The chosen option of each item.
        package var choices: [Int]
        package var bytes: Int
        package var cost: Double
    }

    /// The cheapest choice of one option per item whose bytes sum to at most `budget`, or nil when
    /// even the smallest options do not fit.
    /// - Parameters:
    ///   - items: the options of each item (at most 255 per item, at least one).
    ///   - budget: bytes available to these items.
    ///   - buckets: resolution of the byte axis (the bucket is `budget / buckets`, at least 1 byte).
    package static func solve(_ items: [[Option]], budget: Int, buckets: Int = 20_000) -> Solution? {
        precondition(items.allSatisfy { !$0.isEmpty && $0.count < 255 }, "every item needs 1...254 options")
        guard budget >= 0 else { return nil }
        if items.isEmpty { return Solution(choices: [], bytes: 0, cost: 0) }
        let minimum = items.reduce(0) { $0 + $1.map(\.bytes).min()! }
        guard minimum <= budget else { return nil }
        let bucket = max(1, budget / max(1, buckets))
        let capacity = budget / bucket  // whole buckets only: rounding down keeps the result within budget
        let width = capacity + 1
        // best[c]: least cost of the items so far within at most c buckets (kept monotone in c).
        var best = [Double](repeating: 0, count: width)
        var next = [Double](repeating: .infinity, count: width)
        var choice = [UInt8](repeating: 255, count: items.count * width)
        for (i, options) in items.enumerated() {
            for c in 0..<width { next[c] = .infinity }
            for (k, option) in options.enumerated() {
                let size = (option.bytes + bucket - 1) / bucket  // rounded up
                guard size <= capacity else { continue }
                let cost = option.cost
                for c in size..<width {
                    let candidate = best[c - size] + cost
                    if candidate < next[c] {
                        next[c] = candidate
                        choice[i * width + c] = UInt8(k)
                    }
                }
            }
            // Keep `next` monotone (least cost within at most c buckets) and the choice with it.
            for c in 1..<width where next[c - 1] < next[c] {
                next[c] = next[c - 1]
                choice[i * width + c] = 254  // "same as c - 1"
            }
            swap(&best, &next)
        }
        guard best[capacity].isFinite else {
            // The rounded sizes do not fit although the exact ones do: a degenerate budget.
            return nil
        }
        var choices = [Int](repeating: 0, count: items.count)
        var c = capacity
        for i in stride(from: items.count - 1, through: 0, by: -1) {
            while choice[i * width + c] == 254 { c -= 1 }
            let k = Int(choice[i * width + c])
            precondition(k < items[i].count, "solver back-pointer lost")
            choices[i] = k
            c -= (items[i][k].bytes + bucket - 1) / bucket
        }
        // The rounding leaves up to one bucket per item unused; spend it in exact bytes on the
        // change of one item's option that lowers the cost most, while one fits.
        var bytes = zip(items, choices).reduce(0) { $0 + $1.0[$1.1].bytes }
        while true {
            var best: (item: Int, option: Int, gain: Double)?
            for (i, options) in items.enumerated() {
                let current = options[choices[i]]
                for (k, option) in options.enumerated() where option.cost < current.cost && bytes - current.bytes + option.bytes <= budget {
                    let gain = current.cost - option.cost
                    if best == nil || gain > best!.gain { best = (i, k, gain) }
                }
            }
            guard let (i, k, _) = best else { break }
            bytes += items[i][k].bytes - items[i][choices[i]].bytes
            choices[i] = k
        }
        let cost = zip(items, choices).reduce(0.0) { $0 + $1.0[$1.1].cost }
        return Solution(choices: choices, bytes: bytes, cost: cost)
    }
}
