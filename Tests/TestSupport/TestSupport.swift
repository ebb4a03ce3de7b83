import Foundation

/// Helpers shared by the test targets: scratch directories, the built `moepack` binary, and the
/// Python oracles (the real `safetensors`, `ml_dtypes`, `tokenizers` packages from PyPI, set up in
/// `.venv-oracle` by `Tests/run.sh`).
public enum TestSupport {
    /// Repository root, derived from this file's location.
    public static let packageRoot: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }()

    /// The trained dev checkpoint (`../shared/devmodel/dev.tar.zst`, beside the repository in a
    /// checkout and in CI), unpacked once per test process: (checkpoint directory, held-out text).
    /// nil when the archive is not there.
    public static let devModel: (checkpoint: String, text: String)? = {
        let archive = packageRoot + "/../shared/devmodel/dev.tar.zst"
        guard FileManager.default.fileExists(atPath: archive) else { return nil }
        let directory = scratchDirectory("devmodel")
        guard let result = try? run("/usr/bin/env", ["tar", "--zstd", "-xf", archive, "-C", directory]), result.status == 0 else { return nil }
        return (directory + "/dev", directory + "/dev.eval.txt")
    }()

    public static var devModelAvailable: Bool { FileManager.default.fileExists(atPath: packageRoot + "/../shared/devmodel/dev.tar.zst") }

    /// A fresh empty directory, under this test process's own root in the system temp directory.
    public static func scratchDirectory(_ label: String = "test") -> String {
        makeTemporaryDirectory(processRoot + "/\(label)-XXXXXX")
    }

    /// Every scratch directory of this process (models, GGUFs, an unpacked dev checkpoint of
    /// 276 MB) lives here, and the whole tree is removed when the process exits: runs of the suite
    /// must not fill the disk (thousands of left-over directories once did).
    static let processRoot: String = {
        let root = makeTemporaryDirectory(NSTemporaryDirectory() + "moepack-tests-XXXXXX")
        atexit { try? FileManager.default.removeItem(atPath: TestSupport.processRoot) }
        return root
    }()

    static func makeTemporaryDirectory(_ template: String) -> String {
        var bytes = Array(template.utf8CString)
        guard let made = bytes.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            fatalError("cannot create a scratch directory from \(template): errno \(errno)")
        }
        return String(cString: made)
    }

    /// The `moepack` executable next to the test bundle (SwiftPM builds it: the test target
    /// depends on it).
    public static var moepackBinary: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("moepack").path)
            && directory.path != "/"
        {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("moepack").path
    }

    public struct RunResult: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs a program and waits for it.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws
        -> RunResult
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return RunResult(
            status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData, as: UTF8.self))
    }

    /// Runs `moepack` with arguments.
    public static func moepack(_ arguments: String...) throws -> RunResult {
        try run(moepackBinary, arguments)
    }

    // MARK: - Python oracles

    /// The oracle interpreter: `$MOEPACK_PYTHON`, else `.venv-oracle/bin/python` in the repository.
    public static var oraclePython: String? {
        if let path = ProcessInfo.processInfo.environment["MOEPACK_PYTHON"], FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        let venv = packageRoot + "/.venv-oracle/bin/python"
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : nil
    }

    /// Oracle tests run when the interpreter exists; `Tests/run.sh` (and so CI) sets
    /// `MOEPACK_REQUIRE_ORACLES=1`, under which a missing interpreter fails instead of skipping.
    public static var oraclesAvailable: Bool {
        oraclePython != nil || ProcessInfo.processInfo.environment["MOEPACK_REQUIRE_ORACLES"] == "1"
    }

    public struct OracleError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs `Tests/Oracles/<script>` with the oracle interpreter; returns stdout, throws on failure.
    public static func oracle(_ script: String, _ arguments: [String]) throws -> String {
        guard let python = oraclePython else {
            throw OracleError(description: "no oracle Python: run `bash Tests/run.sh` once (it creates .venv-oracle)")
        }
        let result = try run(python, [packageRoot + "/Tests/Oracles/" + script] + arguments)
        guard result.status == 0 else {
            throw OracleError(description: "\(script) failed (\(result.status)):\n\(result.stdout)\n\(result.stderr)")
        }
        return result.stdout
    }
}
