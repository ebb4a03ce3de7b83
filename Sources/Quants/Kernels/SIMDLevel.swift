#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The instruction sets QuantKernels is compiled for. The AVX2 build exists on x86-64 only and is
/// used when the CPU reports every feature `-target-cpu haswell` may emit.
public enum SIMDLevel: String, Sendable, CaseIterable, CustomStringConvertible {
    case baseline
    case avx2

    public var description: String { self == .avx2 ? "AVX2 (Haswell and later)" : "baseline (SSE2 / NEON)" }

    /// The levels this build has and this CPU runs.
    public static let supported: [SIMDLevel] = {
        #if canImport(QuantKernelsAVX2)
        if cpuHasHaswellFeatures() { return [.baseline, .avx2] }
        #endif
        return [.baseline]
    }()

    /// The level every quantizer call uses: the best supported one, or `MOEPACK_SIMD=baseline`
    /// (for comparisons; an unsupported or unknown value is ignored).
    public static let active: SIMDLevel = {
        if let forced = getenv("MOEPACK_SIMD").flatMap({ SIMDLevel(rawValue: String(cString: $0)) }),
            supported.contains(forced)
        {
            return forced
        }
        return supported.last!
    }()

    /// Linux lists the CPU's features in /proc/cpuinfo (and hides AVX ones the kernel cannot save).
    /// Elsewhere moepack stays on the baseline build.
    private static func cpuHasHaswellFeatures() -> Bool {
        #if os(Linux)
        guard let file = fopen("/proc/cpuinfo", "r") else { return false }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            guard text.hasPrefix("flags") else { continue }
            let flags = Set(text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init))
            return ["avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "abm", "movbe", "popcnt"].allSatisfy(flags.contains)
        }
        #endif
        return false
    }
}
