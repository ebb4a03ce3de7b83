#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The CPU's feature flags as Linux lists them in /proc/cpuinfo ("avx2", "fma", "avx512f", ...),
/// read once. The kernel hides flags it cannot support (AVX without XSAVE), so a listed flag is
/// usable. Empty elsewhere: callers then keep their portable choice.
package enum CPUFeatures {
    package static let flags: Set<String> = {
        #if os(Linux)
        guard let file = fopen("/proc/cpuinfo", "r") else { return [] }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            guard text.hasPrefix("flags") else { continue }
            return Set(text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init))
        }
        #endif
        return []
    }()

    /// True when every one of `names` is listed.
    package static func has(_ names: String...) -> Bool { names.allSatisfy(flags.contains) }
}
