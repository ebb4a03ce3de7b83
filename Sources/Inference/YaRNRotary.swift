import DeepSeekV3
import Foundation

/// Rotary position embedding with YaRN frequency correction, as `precompute_freqs_cis` and
/// `apply_rotary_emb` in DeepSeek's `inference/model.py`: base frequencies `θ^(−2i/d)`; with YaRN,
/// dimensions below the correction range keep their frequency, those above are divided by
/// `factor`, a linear ramp blends in between; rotation acts on **adjacent pairs** `(x[2i], x[2i+1])`
/// (llama.cpp's `LLAMA_ROPE_TYPE_NORM` for deepseek2).
package struct YaRNRotary: Sendable {
    package let dimensions: Int
    /// One frequency per pair (`dimensions / 2`), radians per position.
    package let frequencies: [Float]
    /// `yarn_get_mscale(factor, mscale) / yarn_get_mscale(factor, mscale_all_dim)` (HF's cos/sin
    /// multiplier; 1 for V3/R1).
    package let magnitude: Float

    package init(config: DeepSeekV3Config) {
        let d = config.qkRopeHeadDim
        let base = config.ropeTheta
        dimensions = d
        var freqs = (0..<(d / 2)).map { i in Float(1.0 / Foundation.pow(base, Double(2 * i) / Double(d))) }
        var magnitude: Float = 1
        if let yarn = config.ropeScaling, yarn.type == "yarn", yarn.factor > 1 {
            let (low, high) = Self.correctionRange(
                betaFast: yarn.betaFast, betaSlow: yarn.betaSlow, dimensions: d, base: base,
                originalLength: Double(yarn.originalMaxPositionEmbeddings))
            let hi: Float = low == high ? Float(high) + 0.001 : Float(high)
            let factor = Float(yarn.factor)
            for i in freqs.indices {
                let ramp = Swift.min(Swift.max((Float(i) - Float(low)) / (hi - Float(low)), 0), 1)
                let smooth = 1 - ramp
                freqs[i] = freqs[i] / factor * (1 - smooth) + freqs[i] * smooth
            }
            magnitude = Float(Self.mscale(yarn.factor, yarn.mscale) / Self.mscale(yarn.factor, yarn.mscaleAllDim))
        }
        frequencies = freqs
        self.magnitude = magnitude
    }

    /// `find_correction_range`: the dimensions whose wavelength completes `betaFast` … `betaSlow`
    /// rotations over the original context, floored/ceiled and clamped to `[0, d-1]`.
    package static func correctionRange(betaFast: Double, betaSlow: Double, dimensions d: Int, base: Double, originalLength: Double)
        -> (low: Int, high: Int)
    {
        func dimension(_ rotations: Double) -> Double {
            Double(d) * Foundation.log(originalLength / (rotations * 2 * Double.pi)) / (2 * Foundation.log(base))
        }
        // Clamped before the conversion, so no input can make it trap (a validated config gives
        // finite values; NaN, which only an unvalidated one can give, maps to 0).
        func clamped(_ x: Double) -> Int { x.isNaN ? 0 : Int(Swift.min(Swift.max(x, -1), Double(d))) }
        let low = clamped(Foundation.floor(dimension(betaFast)))
        let high = clamped(Foundation.ceil(dimension(betaSlow)))
        return (Swift.max(low, 0), Swift.min(high, d - 1))
    }

    /// `yarn_get_mscale`: `0.1·m·ln(factor) + 1` for factor > 1.
    package static func mscale(_ factor: Double, _ m: Double) -> Double {
        factor <= 1 ? 1 : 0.1 * m * Foundation.log(factor) + 1
    }

    /// The attention softmax scale: `qk_head_dim^-0.5`, times `mscale(factor, mscale_all_dim)²` with YaRN.
    package static func softmaxScale(config: DeepSeekV3Config) -> Float {
        var scale = 1 / Foundation.sqrt(Double(config.qkHeadDim))
        if let yarn = config.ropeScaling, yarn.type == "yarn", yarn.mscaleAllDim != 0 {
            let m = mscale(yarn.factor, yarn.mscaleAllDim)
            scale *= m * m
        }
        return Float(scale)
    }

    /// cos/sin tables for positions `0..<count`, `[count, dimensions/2]` each.
    package func table(positions count: Int) -> (cos: [Float], sin: [Float]) {
        let half = dimensions / 2
        var cosines = [Float](repeating: 0, count: count * half)
        var sines = [Float](repeating: 0, count: count * half)
        for t in 0..<count {
            for i in 0..<half {
                // The reference forms the angle in f32 (`torch.outer` of f32 tensors).
                let angle = Float(t) * frequencies[i]
                cosines[t * half + i] = Float(Foundation.cos(Double(angle))) * magnitude
                sines[t * half + i] = Float(Foundation.sin(Double(angle))) * magnitude
            }
        }
        return (cosines, sines)
    }

    /// Rotates `x[0..<dimensions]` in place for position `t` of `table`.
    @inline(__always)
    package static func rotate(_ x: UnsafeMutablePointer<Float>, half: Int, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
        for i in 0..<half {
            let a = x[2 * i], b = x[2 * i + 1]
            x[2 * i] = a * cos[i] - b * sin[i]
            x[2 * i + 1] = a * sin[i] + b * cos[i]
        }
    }
}
