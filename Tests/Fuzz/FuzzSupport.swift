import Foundation

/// Shared by every fuzz target (compiled into each): the input as a file, for parsers that read
/// files (they memory-map them), in a per-process scratch directory in /dev/shm when it exists.
enum FuzzInput {
    static let directory: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = base + "/moepack-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// Writes `bytes` to `name` in the scratch directory and returns its path.
    static func file(_ bytes: UnsafeRawBufferPointer, name: String) -> String {
        let path = directory + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }
}
