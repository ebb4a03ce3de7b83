import Conversion
import Foundation
import SyntheticModels
import TensorFiles

/// Runs a program to completion and reports what the kernel measured for it: wall time, CPU time
/// and peak resident memory. Used by benchmarks so that each measured job has a process of its own
/// and its own peak.
///
/// The peak is the child's `VmHWM` (/proc/PID/status), read every 10 ms while it runs, not
/// `wait4`'s `ru_maxrss`: glibc's `posix_spawn` runs the child on the parent's memory until `exec`
/// (`CLONE_VM | CLONE_VFORK`), and the kernel carries that memory's high-water mark into the
/// child's `ru_maxrss`, so a 50 MB child of a 2 GB benchmark would report 2 GB. `ru_maxrss` is
/// the fallback where /proc cannot be read.
package struct ChildProcess {
    package struct Result: Sendable {
        package var exitStatus: Int32
        package var seconds: Double
        package var peakResidentBytes: Int
        package var standardOutput: String
        /// User + system CPU time of the child: what a job costs, less sensitive than wall time to
        /// other load on the machine.
        package var cpuSeconds: Double = 0
    }

    /// Path of the running executable (to re-invoke moepack itself).
    package static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    package static func run(_ executable: String, _ arguments: [String]) throws -> Result {
        let outputPath = NSTemporaryDirectory() + "moepack-child-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let started = Date()
        let status = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard status == 0 else { throw FileError(path: executable, operation: "spawn", errno: status) }
        var waitStatus: Int32 = 0
        var usage = rusage()
        var highWater = 0
        while true {
            let reaped = wait4(pid, &waitStatus, WNOHANG, &usage)
            if reaped == pid { break }
            if reaped < 0 && errno != EINTR { break }
            highWater = max(highWater, Self.residentHighWater(pid) ?? 0)
            usleep(10_000)
        }
        let seconds = Date().timeIntervalSince(started)
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exited = (waitStatus & 0x7F) == 0
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        return Result(
            exitStatus: exited ? (waitStatus >> 8) & 0xFF : 128 + (waitStatus & 0x7F), seconds: seconds,
            peakResidentBytes: highWater > 0 ? highWater : usage.ru_maxrss * 1024, standardOutput: output, cpuSeconds: cpu)
    }

    /// `VmHWM` of a running process, in bytes.
    static func residentHighWater(_ pid: pid_t) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kilobytes * 1024
    }
}

