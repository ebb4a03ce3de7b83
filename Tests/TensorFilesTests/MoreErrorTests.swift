import Foundation
import Quants
import TensorFiles
import TestSupport
import Testing

/// Error paths not covered elsewhere: each bad input, its one-line message.
@Suite struct MoreErrorTests {
    @Test func checkpointDirectoryErrors() throws {
        let empty = TestSupport.scratchDirectory("empty")
        #expect { try Checkpoint(directory: empty) } throws: {
            "\($0)" == "\(empty): no model.safetensors.index.json, model.safetensors or *.safetensors found"
        }
        // Two unindexed files holding the same tensor name.
        let twice = TestSupport.scratchDirectory("twice")
        let layout = SafetensorsLayout(entries: [.init(name: "w", dtype: .u8, shape: [1])], metadata: [])
        for name in ["a.safetensors", "b.safetensors"] {
            try Data(layout.headerBytes + [7]).write(to: URL(fileURLWithPath: twice + "/" + name))
        }
        #expect { try Checkpoint(directory: twice) } throws: { "\($0)" == "tensor 'w' appears in both 'a.safetensors' and 'b.safetensors'" }
        // An index that is not JSON, and one whose shard name is a path.
        let badIndex = TestSupport.scratchDirectory("badindex")
        try Data("[1,".utf8).write(to: URL(fileURLWithPath: badIndex + "/model.safetensors.index.json"))
        #expect { try Checkpoint(directory: badIndex) } throws: { "\($0)" == "\(badIndex)/model.safetensors.index.json: not a JSON object" }
        try Data(#"{"weight_map": {"w": "../x.safetensors"}}"#.utf8).write(to: URL(fileURLWithPath: badIndex + "/model.safetensors.index.json"))
        #expect { try Checkpoint(directory: badIndex) } throws: {
            "\($0)" == "\(badIndex)/model.safetensors.index.json: weight_map entry 'w' is not a plain file name"
        }
    }

    func ggufError(_ metadata: [(key: String, value: GGUFValue)], patch: (inout [UInt8]) -> Void) throws -> String {
        let layout = try GGUFLayout(metadata: metadata, tensors: [])
        var bytes = layout.headerBytes
        patch(&bytes)
        let path = TestSupport.scratchDirectory("ggufmore") + "/x.gguf"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try GGUFFile(path: path)
            return "no error"
        } catch { return "\(error)".replacingOccurrences(of: path, with: "FILE") }
    }

    /// Offset of the first value of the first key in a header with one key named `k`.
    let firstValue = 24 + 8 + 1 + 4

    @Test func ggufReaderValueErrors() throws {
        // Duplicate keys (written by hand: the planner refuses them).
        #expect(try ggufError([("aa", .uint8(1)), ("ab", .uint8(2))]) { bytes in bytes[24 + 8 + 2 + 4 + 1 + 8 + 1] = UInt8(ascii: "a") }
            == "FILE: metadata key 'aa' appears twice")
        #expect(try ggufError([("k", .bool(true))]) { $0[firstValue] = 7 } == "FILE: metadata 'k': bool byte 7")
        #expect(try ggufError([("k", .uint8(1))]) { $0[24 + 8 + 1] = 99 } == "FILE: metadata 'k' has unknown value type 99")
        #expect(try ggufError([("k", .string("é"))]) { $0[firstValue + 8] = 0xFF } .hasPrefix("FILE: string at offset"))
        #expect(try ggufError([("general.alignment", .uint32(64))]) { $0[24 + 8 + 17 + 4] = 48 }
            == "FILE: general.alignment uint32(48) must be a u32 power of two")
        #expect(try ggufError([("k", .array(.uint32([1, 2])))]) { $0[firstValue] = 9 } == "FILE: metadata 'k': nested arrays are not supported")
    }

    @Test func unsupportedTypesAreNamed() {
        var out = [UInt8](repeating: 0, count: 64)
        let row = [Float](repeating: 1, count: 256)
        do {
            try row.withUnsafeBufferPointer { x in try out.withUnsafeMutableBytes { try GGMLType.tq1_0.quantize(row: x, into: $0) } }
            Issue.record("expected an error")
        } catch {
            #expect("\(error)" == "moepack cannot write TQ1_0")
        }
    }
}
