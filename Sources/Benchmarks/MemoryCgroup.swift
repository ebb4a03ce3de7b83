#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What the memory-capped benchmarks need from the system: a memory cgroup, evicting a
/// checkpoint from the page cache, and sizes on disk.

package func fileOrDirectorySize(_ path: String) -> Int {
    var isDirectory: ObjCBool = false
    _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
    if isDirectory.boolValue { return directorySize(path) }
    return ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
}

package func directorySize(_ path: String) -> Int {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    return names.reduce(0) { $0 + (((try? FileManager.default.attributesOfItem(atPath: path + "/" + $1))?[.size] as? Int) ?? 0) }
}

/// Evicts a checkpoint's files from the page cache (`POSIX_FADV_DONTNEED`), so the next run
/// reads them from storage as a machine without room to cache them would.
package func dropCaches(_ directory: String) {
    for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
        let fd = open(directory + "/" + name, O_RDONLY)
        guard fd >= 0 else { continue }
        _ = fdatasync(fd)
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
        close(fd)
    }
}

/// A memory cgroup that caps the resident and page-cache memory of the processes put in it
/// (cgroup v2 `memory.max`, or v1 `memory.limit_in_bytes`).
package struct MemoryCgroup {
    package let directory: String
    package let procs: String

    package init?(limit: Int) {
        let name = "moepack-bench-\(getpid())"
        let manager = FileManager.default
        if manager.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") {
            directory = "/sys/fs/cgroup/" + name
            guard (try? manager.createDirectory(atPath: directory, withIntermediateDirectories: false)) != nil,
                (try? "\(limit)".write(toFile: directory + "/memory.max", atomically: false, encoding: .utf8)) != nil
            else { return nil }
        } else {
            directory = "/sys/fs/cgroup/memory/" + name
            guard (try? manager.createDirectory(atPath: directory, withIntermediateDirectories: false)) != nil,
                (try? "\(limit)".write(toFile: directory + "/memory.limit_in_bytes", atomically: false, encoding: .utf8)) != nil
            else { return nil }
        }
        procs = directory + "/cgroup.procs"
    }

    package func remove() { rmdir(directory) }

    /// Runs `executable` with `arguments` inside the cgroup (the child joins it before `exec`).
    package func run(_ executable: String, _ arguments: [String]) throws -> ChildProcess.Result {
        try ChildProcess.run("/bin/sh", ["-c", "echo $$ > \(procs) && exec \"$@\"", "sh", executable] + arguments)
    }
}
