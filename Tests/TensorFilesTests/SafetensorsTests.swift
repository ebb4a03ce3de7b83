import Foundation
import Quants
import TensorFiles
import TestSupport
import Testing

/// Builds raw safetensors bytes from a header string, like candle's `header` test helper.
func safetensorsBytes(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
    let json = Array(header.utf8)
    var bytes: [UInt8] = []
    withUnsafeBytes(of: (declaredLength ?? UInt64(json.count)).littleEndian) { bytes += $0 }
    return bytes + json + data
}

func writeTemporary(_ bytes: [UInt8], name: String = "x.safetensors") throws -> String {
    let path = TestSupport.scratchDirectory("st") + "/" + name
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

func parseError(_ bytes: [UInt8]) throws -> String {
    let path = try writeTemporary(bytes)
    do {
        _ = try SafetensorsFile(path: path)
        return "no error"
    } catch {
        return "\(error)".replacingOccurrences(of: path, with: "FILE")
    }
}

@Suite struct SafetensorsParseTests {
    @Test func readsWhatTheLayoutWrites() throws {
        let entries: [SafetensorsLayout.Entry] = [
            .init(name: "a", dtype: .f32, shape: [2, 3]),
            .init(name: "b\"quoted\\name", dtype: .bf16, shape: [5]),
            .init(name: "empty", dtype: .i64, shape: [0, 4]),
            .init(name: "w", dtype: .f8E4M3, shape: [3, 3]),
            .init(name: "flag", dtype: .bool, shape: []),
        ]
        let layout = SafetensorsLayout(entries: entries, metadata: [("format", "pt"), ("note", "ünïcode")])
        #expect(layout.headerBytes.count % 8 == 0)
        var file = layout.headerBytes + [UInt8](repeating: 0, count: layout.dataSize)
        for index in entries.indices {
            for offset in layout.fileRange(of: index) { file[offset] = UInt8(truncatingIfNeeded: offset * 31 + index) }
        }
        let path = try writeTemporary(file)
        let parsed = try SafetensorsFile(path: path)
        #expect(parsed.tensors.map(\.name) == entries.map(\.name))
        #expect(parsed.metadata == ["format": "pt", "note": "ünïcode"])
        for (index, entry) in entries.enumerated() {
            let info = try #require(parsed.info(entry.name))
            #expect(info.dtype == entry.dtype && info.shape == entry.shape)
            #expect(Array(parsed.bytes(of: info)) == Array(file[layout.fileRange(of: index)]))
        }
    }

    @Test(.enabled(if: TestSupport.oraclesAvailable))
    func theSafetensorsLibraryReadsOurFiles() throws {
        let layout = SafetensorsLayout(
            entries: [.init(name: "x", dtype: .bf16, shape: [4, 2]), .init(name: "y", dtype: .f8E4M3, shape: [3])],
            metadata: [("format", "pt")])
        let data = (0..<layout.dataSize).map { UInt8($0 * 7 % 251) }
        let path = try writeTemporary(layout.headerBytes + data)
        let output = try TestSupport.oracle("read_safetensors.py", [path])
        let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as! [String: Any]
        let tensors = json["tensors"] as! [String: [String: Any]]
        #expect(tensors["x"]?["dtype"] as? String == "BF16" && tensors["x"]?["shape"] as? [Int] == [4, 2])
        #expect(tensors["y"]?["dtype"] as? String == "F8_E4M3" && tensors["y"]?["shape"] as? [Int] == [3])
        #expect(json["metadata"] as? [String: String] == ["format": "pt"])
    }

    /// Each hostile input gets its own one-line error naming the file (and tensor where there is one).
    @Test func rejectsHostileInputsWithClearErrors() throws {
        let tensor = #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let cases: [([UInt8], String)] = [
            ([1, 2, 3], "FILE: not a safetensors file: 3 bytes, shorter than the 8-byte header length"),
            (safetensorsBytes(header: "{}", data: [], declaredLength: 200_000_000),
             "FILE: header length 200000000 exceeds the 100,000,000-byte limit (corrupt header?)"),
            (safetensorsBytes(header: "{}", data: [], declaredLength: 64),
             "FILE: header claims 64 bytes but the file has only 10 (truncated or corrupt)"),
            (safetensorsBytes(header: "{\"t\": [}", data: []), "FILE: header is not valid JSON"),
            (safetensorsBytes(header: "[1, 2]", data: []), "FILE: header is not a JSON object"),
            (safetensorsBytes(header: #"{"t":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
             "FILE: tensor 't': unknown dtype 'F33'"),
            (safetensorsBytes(header: #"{"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: []),
             "FILE: tensor 't': shape [-2] has a non-integer or negative size"),
            (safetensorsBytes(header: #"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
             "FILE: tensor 't': shape [3] of F32 needs 12 bytes but its data_offsets span 8"),
            (safetensorsBytes(header: #"{"t":{"dtype":"F32","shape":[1099511627776,1099511627776,16],"data_offsets":[0,8]}}"#, data: []),
             "FILE: tensor 't': shape × element size overflows"),
            (safetensorsBytes(header: #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#, data: [UInt8](repeating: 0, count: 6)),
             "FILE: tensor 'b': data starts at 2, overlapping the previous tensor (ends at 4)"),
            (safetensorsBytes(header: #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#, data: [UInt8](repeating: 0, count: 6)),
             "FILE: tensor 'a': data starts at 2, leaving a gap after the previous tensor (ends at 0)"),
            (safetensorsBytes(header: tensor, data: [0, 0, 0]),
             "FILE: truncated: tensor data needs 8 bytes but only 3 are present (tensor 't' is cut off)"),
            (safetensorsBytes(header: tensor, data: [UInt8](repeating: 0, count: 12)),
             "FILE: 4 bytes of data after the last tensor (header and data disagree)"),
            (safetensorsBytes(header: #"{"__metadata__":{"k":1},"t":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}"#, data: [0]),
             "FILE: __metadata__ value of 'k' is not a string"),
            (safetensorsBytes(header: #"{"t":{"dtype":"U8","shape":[1]}}"#, data: [0]),
             "FILE: tensor 't': 'data_offsets' must be [begin, end] with 0 <= begin <= end"),
        ]
        for (bytes, expected) in cases {
            let message = try parseError(bytes)
            #expect(message.hasPrefix(expected), "got: \(message)")
        }
        // Invalid UTF-8 in the header.
        #expect(try parseError(safetensorsBytes(header: "{\"\u{FF}\":1}", data: []).enumerated().map { $0.offset == 10 ? 0xFF : $0.element })
            == "FILE: header is not valid UTF-8")
    }
}

@Suite struct CheckpointIndexTests {
    /// A two-shard checkpoint written with our layout writer.
    func makeCheckpoint(_ mutateIndex: ((inout [String: Any]) -> Void)? = nil) throws -> String {
        let directory = TestSupport.scratchDirectory("ckpt")
        let shards: [(String, [SafetensorsLayout.Entry])] = [
            ("model-00001-of-00002.safetensors", [.init(name: "a", dtype: .f32, shape: [2])]),
            ("model-00002-of-00002.safetensors", [.init(name: "b", dtype: .bf16, shape: [3]), .init(name: "c", dtype: .u8, shape: [1])]),
        ]
        var weightMap: [String: String] = [:]
        for (name, entries) in shards {
            let layout = SafetensorsLayout(entries: entries, metadata: [])
            try Data(layout.headerBytes + [UInt8](repeating: 1, count: layout.dataSize)).write(to: URL(fileURLWithPath: directory + "/" + name))
            for entry in entries { weightMap[entry.name] = name }
        }
        var index: [String: Any] = ["metadata": ["total_size": 15], "weight_map": weightMap]
        mutateIndex?(&index)
        try JSONSerialization.data(withJSONObject: index).write(to: URL(fileURLWithPath: directory + "/model.safetensors.index.json"))
        return directory
    }

    @Test func opensAShardedCheckpoint() throws {
        let checkpoint = try Checkpoint(directory: try makeCheckpoint())
        #expect(checkpoint.shards.count == 2 && checkpoint.tensorCount == 3)
        #expect(checkpoint.tensorNames == ["a", "b", "c"])
        #expect(checkpoint.info("b")?.shape == [3] && checkpoint.dataBytes == 15)
    }

    @Test func indexProblemsNameTheShardAndTensor() throws {
        func error(_ mutate: @escaping (inout [String: Any]) -> Void) throws -> String {
            let directory = try makeCheckpoint(mutate)
            do {
                _ = try Checkpoint(directory: directory)
                return "no error"
            } catch { return "\(error)".replacingOccurrences(of: directory + "/", with: "") }
        }
        func map(_ index: inout [String: Any], _ body: (inout [String: String]) -> Void) {
            var weightMap = index["weight_map"] as! [String: String]
            body(&weightMap)
            index["weight_map"] = weightMap
        }
        #expect(try error { map(&$0) { $0["a"] = "model-00009-of-00009.safetensors" } }
            == "model.safetensors.index.json: shard 'model-00009-of-00009.safetensors' listed in weight_map does not exist")
        #expect(try error { map(&$0) { $0["zz"] = "model-00001-of-00002.safetensors" } }
            == "model.safetensors.index.json: tensor 'zz' is mapped to 'model-00001-of-00002.safetensors' but that shard has no such tensor")
        #expect(try error { map(&$0) { $0.removeValue(forKey: "c") } }
            == "model.safetensors.index.json: shard 'model-00002-of-00002.safetensors' holds tensor 'c' which weight_map does not list")
        #expect(try error { $0.removeValue(forKey: "weight_map") } == "model.safetensors.index.json: no 'weight_map' object")
    }

    @Test func aTruncatedShardIsNamed() throws {
        let directory = try makeCheckpoint()
        let path = directory + "/model-00002-of-00002.safetensors"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 2).write(to: URL(fileURLWithPath: path))
        #expect { try Checkpoint(directory: directory) } throws: {
            "\($0)" == "\(path): truncated: tensor data needs 7 bytes but only 5 are present (tensor 'c' is cut off)"
        }
    }
}

@Suite struct AtomicOutputFileTests {
    @Test func nothingAppearsAtTheFinalPathUntilCommit() throws {
        let directory = TestSupport.scratchDirectory("atomic")
        let path = directory + "/out.bin"
        do {
            let file = try AtomicOutputFile(path: path)
            try file.write([1, 2, 3], at: 0)
            #expect(!FileManager.default.fileExists(atPath: path))
            #expect(FileManager.default.fileExists(atPath: file.temporaryPath))
        }  // dropped without commit: the temporary file is removed
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        let file = try AtomicOutputFile(path: path)
        try file.write([4, 5], at: 1)
        try file.commit()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data([0, 4, 5]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["out.bin"])
    }

    @Test func checksumsAreXXH3() {
        // XXH3-64 of the empty input and of "abc" (xxHash's own test values).
        #expect(XXH3Hasher.hex(XXH3Hasher.hash(UnsafeRawBufferPointer(start: nil, count: 0))) == "2d06800538d394c2")
        let abc: [UInt8] = Array("abc".utf8)
        abc.withUnsafeBytes { bytes in
            var hasher = XXH3Hasher()
            hasher.update(UnsafeRawBufferPointer(rebasing: bytes[0..<1]))
            hasher.update(UnsafeRawBufferPointer(rebasing: bytes[1...]))
            #expect(hasher.finalize() == XXH3Hasher.hash(bytes))
            #expect(XXH3Hasher.hex(XXH3Hasher.hash(bytes)) == "78af5f94892f3950")
        }
    }
}
