import Foundation
import QuantKernels
import Quants
import Testing

/// The vector `exp` against the C library's, lane by lane: within 2 ulp on the range log-softmax
/// feeds it, and equal to it where it defers to it (out of range, NaN, infinities). The row
/// reductions against plain f64 loops over the C library's `exp`, and every SIMD level against
/// the baseline bit for bit.
@Suite struct SoftmaxKernelTests {
    @Test func withinTwoUlpOfTheCLibrary() {
        var random = SplitMix64(seed: 17)
        var worst = 0.0
        for i in 0..<200_000 {
            var x = SIMD8<Double>()
            // Log-softmax's arguments: logit − max ≤ 0, log-probs down to about −100; a few positive.
            let span = i % 4 == 0 ? 709.0 : 120.0
            for lane in 0..<8 { x[lane] = (Double(random.next() >> 11) / Double(1 << 53)) * (span + 5) - span }
            let e = VectorExp.exp(x)
            for lane in 0..<8 {
                let reference = Foundation.exp(x[lane])
                worst = max(worst, abs(e[lane] - reference) / reference.ulp)
            }
        }
        #expect(worst <= 2, "worst error \(worst) ulp")
    }

    @Test func edgesAreTheCLibrarys() {
        let edges: [Double] = [0, -0.0, 1e-300, -1e-20, -708, -708.0001, -745, -746, -800, 709, 709.5, 710,
                               .infinity, -.infinity, .nan, -.nan, .leastNonzeroMagnitude, -.greatestFiniteMagnitude]
        for start in stride(from: 0, to: edges.count, by: 8) {
            var x = SIMD8<Double>(repeating: 1)
            for lane in 0..<8 where start + lane < edges.count { x[lane] = edges[start + lane] }
            let e = VectorExp.exp(x)
            for lane in 0..<8 where start + lane < edges.count {
                let reference = Foundation.exp(x[lane])
                let deferred = !(x[lane] >= -708 && x[lane] <= 709)
                if reference.isNaN {
                    #expect(e[lane].isNaN)
                } else if deferred {
                    #expect(e[lane] == reference, "exp(\(x[lane]))")
                } else {
                    #expect(abs(e[lane] - reference) <= 2 * reference.ulp, "exp(\(x[lane]))")
                }
            }
        }
        #expect(VectorExp.exp(SIMD8<Double>(repeating: 0)) == SIMD8<Double>(repeating: 1))
    }

    /// Logits of a 129,280-token vocabulary plus an odd tail (the remainder loop), spread as a
    /// trained model's are (most far below the maximum).
    static func logits(count: Int, seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(Double(random.next() >> 40) / Double(1 << 24) * 40 - 30) }
    }

    @Test func rowReductionsMatchPlainLoops() {
        let count = 129_280 + 5
        let x = Self.logits(count: count, seed: 3)
        var maximum = -Double.infinity
        for v in x { maximum = max(maximum, Double(v)) }
        var sum = 0.0
        for v in x { sum += Foundation.exp(Double(v) - maximum) }
        let reference = maximum + Foundation.log(sum)
        let logSumExp = x.withUnsafeBufferPointer { SoftmaxRows.forLevel(.baseline).logSumExp($0.baseAddress!, count) }
        // The plain loop adds 129,285 terms in one sequence, so it is itself only good to about
        // count·ε of the sum (the lanes add in eight shorter sequences): that is the bound.
        #expect(abs(logSumExp - reference) <= Double(count) * Double.ulpOfOne, "\(logSumExp) vs \(reference)")

        let model = x.map { Double(Float(Double($0) - reference)) }
        let base = Self.logits(count: count, seed: 4).map { $0 - Float(reference) }
        var kld = 0.0
        for i in 0..<count { kld += Foundation.exp(Double(base[i])) * (Double(base[i]) - model[i]) }
        let fast = base.withUnsafeBufferPointer { b in model.withUnsafeBufferPointer { m in SoftmaxRows.forLevel(.baseline).klDivergence(b.baseAddress!, m.baseAddress!, count) } }
        #expect(abs(fast - kld) <= 1e-12 * abs(kld), "\(fast) vs \(kld)")

        var withNaN = x
        withNaN[77] = .nan
        #expect(withNaN.withUnsafeBufferPointer { SoftmaxRows.forLevel(.baseline).logSumExp($0.baseAddress!, count) }.isNaN)
    }

    @Test(arguments: SIMDLevel.supported)
    func everyLevelComputesTheBaselinesBits(level: SIMDLevel) {
        for count in [1, 7, 8, 9, 1000, 129_280] {
            let x = Self.logits(count: count, seed: UInt64(count))
            let m = x.map { Double($0) - 3 }
            let a = SoftmaxRows.forLevel(level), b = SoftmaxRows.forLevel(.baseline)
            x.withUnsafeBufferPointer { p in
                m.withUnsafeBufferPointer { q in
                    #expect(a.logSumExp(p.baseAddress!, count).bitPattern == b.logSumExp(p.baseAddress!, count).bitPattern)
                    #expect(a.klDivergence(p.baseAddress!, q.baseAddress!, count).bitPattern == b.klDivergence(p.baseAddress!, q.baseAddress!, count).bitPattern)
                }
            }
        }
    }

    /// The C build for AVX-512 (`AVX512Kernels`) against the baseline, bit for bit: random rows,
    /// every tail length, and rows with lanes the vector exp defers to the C library (far below
    /// the maximum, above 709, infinities) and NaN.
    @Test(.enabled(if: SoftmaxRows.avx512 != nil, "the CPU has no AVX-512"))
    func avx512ComputesTheBaselinesBits() throws {
        let fast = try #require(SoftmaxRows.avx512), baseline = SoftmaxRows.forLevel(.baseline)
        var rows: [[Float]] = [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 63, 64, 65, 71, 72, 127, 128, 129, 1000, 129_280, 129_285].map { Self.logits(count: $0, seed: UInt64($0) + 100) }
        var awkward = Self.logits(count: 4099, seed: 9)
        let edges: [Float] = [-800, 710, 800, -.infinity, 0, -0.0, -708, -708.5, 709, 709.5]
        for (i, v) in edges.enumerated() { awkward[i * 37] = v }
        rows.append(awkward)
        // Edge values in the single-vector tail (192..<200) and the scalar tail (200..<205) after
        // three eight-vector groups.
        var tails = Self.logits(count: 205, seed: 11)
        for (i, v) in [(193, Float(-800)), (196, 709.5), (198, -708.5), (201, -800), (203, 710)] { tails[i] = v }
        rows.append(tails)
        var infinite = awkward
        infinite[100] = Float.infinity
        rows.append(infinite)
        var withNaN = awkward
        withNaN[5] = .nan
        rows.append(withNaN)
        for x in rows {
            // KL model log-probs near the base's, and some lanes far off (large terms).
            let m = x.enumerated().map { Double($0.element) - ($0.offset % 13 == 0 ? 40 : 3) }
            x.withUnsafeBufferPointer { p in
                m.withUnsafeBufferPointer { q in
                    let (a, b) = (fast.logSumExp(p.baseAddress!, x.count), baseline.logSumExp(p.baseAddress!, x.count))
                    #expect(a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN), "logSumExp, \(x.count) values: \(a) vs \(b)")
                    let (c, d) = (fast.klDivergence(p.baseAddress!, q.baseAddress!, x.count), baseline.klDivergence(p.baseAddress!, q.baseAddress!, x.count))
                    #expect(c.bitPattern == d.bitPattern || (c.isNaN && d.isNaN), "klDivergence, \(x.count) values: \(c) vs \(d)")
                }
            }
        }
    }
}
