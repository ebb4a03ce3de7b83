import Foundation

/// Memory figures of this process from the kernel.
public enum ProcessStats {
    /// Peak resident set size so far, in bytes (`getrusage`, `ru_maxrss` is KiB on Linux).
    public static var peakResidentBytes: Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}
