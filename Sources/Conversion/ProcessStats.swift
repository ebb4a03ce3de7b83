import Foundation

/// Memory figures of this process from the kernel.
package enum ProcessStats {
    /// Peak resident set size of this process image, in bytes: `VmHWM` from `/proc/self/status`.
    ///
    /// Not `getrusage`'s `ru_maxrss`: across `posix_spawn` (vfork) + exec, Linux folds the parent's
    /// high-water mark into the child's `maxrss`, so a child measured that way reports its
    /// parent's peak. `VmHWM` belongs to the current address space only.
    package static var peakResidentBytes: Int {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
        {
            return kib * 1024
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }

    /// Bytes this process caused to be fetched from storage (`read_bytes` of `/proc/self/io`,
    /// page faults on mmap'd files included); 0 where the kernel does not say.
    package static var storageReadBytes: Int {
        guard let io = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8),
            let line = io.split(separator: "\n").first(where: { $0.hasPrefix("read_bytes:") }),
            let value = Int(line.split(separator: " ", omittingEmptySubsequences: true).last ?? "")
        else { return 0 }
        return value
    }
}
