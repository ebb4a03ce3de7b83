#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The instruction sets QuantKernels is compiled for. The AVX2 build exists on x86-64 only and is
/// used when /proc/cpuinfo lists every feature `-target-cpu haswell` may emit (elsewhere moepack
/// stays on the baseline build).
package enum SIMDLevel: String, Sendable, CaseIterable, CustomStringConvertible {
    case baseline
    case avx2

    package var description: String { self == .avx2 ? "AVX2 (Haswell and later)" : "baseline (SSE2 / NEON)" }

    /// The levels this build has and this CPU runs.
    package static let supported: [SIMDLevel] = {
        #if canImport(QuantKernelsAVX2)
        // Every feature `-target-cpu haswell` may emit ("abm" is LZCNT).
        if CPUFeatures.has("avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "abm", "movbe", "popcnt") {
            return [.baseline, .avx2]
        }
        #endif
        return [.baseline]
    }()

    /// The level every quantizer call uses: the best supported one, or `MOEPACK_SIMD=baseline`
    /// (for comparisons; an unsupported or unknown value is ignored).
    package static let active: SIMDLevel = {
        if let forced = getenv("MOEPACK_SIMD").flatMap({ SIMDLevel(rawValue: String(cString: $0)) }),
            supported.contains(forced)
        {
            return forced
        }
        return supported.last!
    }()
}
