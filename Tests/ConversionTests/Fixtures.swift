import Conversion
import Foundation
import SyntheticModels
import TestSupport

/// Synthetic checkpoints shared by the tests of this target, generated once per test process.
enum Fixtures {
    static let tiny: String = {
        let directory = TestSupport.scratchDirectory("tiny") + "/fp8"
        try! SyntheticCheckpoint(preset: .tiny, seed: 0).write(to: directory, progress: .quiet)
        return directory
    }()

    static let small: String = {
        let directory = TestSupport.scratchDirectory("small") + "/fp8"
        try! SyntheticCheckpoint(preset: .small, seed: 0).write(to: directory, progress: .quiet)
        return directory
    }()

    /// A private copy of the tiny checkpoint that a test may damage.
    static func tinyCopy() throws -> String {
        let directory = TestSupport.scratchDirectory("tinycopy") + "/fp8"
        try FileManager.default.copyItem(atPath: tiny, toPath: directory)
        return directory
    }

    static func files(in directory: String) throws -> [String: Data] {
        var result: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            result[name] = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
        }
        return result
    }
}
