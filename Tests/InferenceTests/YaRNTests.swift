import DeepSeekV3
import Foundation
import Inference
import Testing
import TestSupport

/// YaRN numbers for DeepSeek-R1's config (formats/deepseek-fp8.md, "YaRN rotary embedding", from
/// `precompute_freqs_cis` and `MLA.__init__` in DeepSeek's `inference/model.py`).
@Suite struct YaRNTests {
    static let r1 = try! DeepSeekV3Config.load(path: TestSupport.packageRoot + "/Tests/DeepSeekV3Tests/Fixtures/deepseek-r1-config.json")

    @Test func correctionRangeIsTenToTwentyThree() {
        let range = YaRNRotary.correctionRange(betaFast: 32, betaSlow: 1, dimensions: 64, base: 10000, originalLength: 4096)
        #expect(range.low == 10)
        #expect(range.high == 23)
    }

    @Test func frequenciesKeepLowDimensionsAndDivideHighOnes() {
        let rope = YaRNRotary(config: Self.r1)
        #expect(rope.frequencies.count == 32)
        for i in 0..<32 {
            let base = Float(1 / pow(10000, Double(2 * i) / 64))
            let ramp = min(max((Float(i) - 10) / 13, 0), 1)
            let expected = base / 40 * ramp + base * (1 - ramp)
            #expect(abs(rope.frequencies[i] - expected) <= 1e-7 * base)
            if i <= 10 { #expect(rope.frequencies[i] == base) }
            if i >= 23 { #expect(abs(rope.frequencies[i] - base / 40) <= 1e-7 * base) }
        }
        #expect(rope.magnitude == 1)
    }

    @Test func softmaxScaleIncludesMscaleSquared() {
        // 192^-0.5 · (0.1·ln 40 + 1)² = 0.0721688 · 1.8738542 = 0.1352338
        #expect(abs(YaRNRotary.softmaxScale(config: Self.r1) - 0.1352338) < 1e-6)
        var plain = Self.r1
        plain.ropeScaling = nil
        #expect(abs(YaRNRotary.softmaxScale(config: plain) - 0.0721688) < 1e-6)
    }

    @Test func rotationActsOnAdjacentPairs() {
        var x: [Float] = [1, 0, 0, 1]
        let cos: [Float] = [0, 1], sin: [Float] = [1, 0]  // pair 0 turns by 90°, pair 1 stays
        x.withUnsafeMutableBufferPointer { YaRNRotary.rotate($0.baseAddress!, half: 2, cos: cos, sin: sin) }
        #expect(x == [0, 1, 0, 1])
    }
}
