import Foundation
import TensorFiles

/// Runs a program to completion and reports what the kernel measured for it: wall time and
/// peak resident memory (`wait4`'s `ru_maxrss`). Used by benchmarks so that each measured job
/// has a process of its own and its own peak.
public struct ChildProcess {
    public struct Result: Sendable {
        public var exitStatus: Int32
        public var seconds: Double
        public var peakResidentBytes: Int
        public var standardOutput: String
        /// User + system CPU time of the child: what a job costs, less sensitive than wall time to
        /// other load on the machine.
        public var cpuSeconds: Double = 0
    }

    /// Path of the running executable (to re-invoke moepack itself).
    public static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    public static func run(_ executable: String, _ arguments: [String]) throws -> Result {
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
        while wait4(pid, &waitStatus, 0, &usage) < 0 && errno == EINTR {}
        let seconds = Date().timeIntervalSince(started)
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exited = (waitStatus & 0x7F) == 0
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        return Result(
            exitStatus: exited ? (waitStatus >> 8) & 0xFF : 128 + (waitStatus & 0x7F), seconds: seconds,
            peakResidentBytes: usage.ru_maxrss * 1024, standardOutput: output, cpuSeconds: cpu)
    }
}

