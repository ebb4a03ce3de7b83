import Foundation
import Quants
import TensorFiles
import TestSupport
import Testing

@Suite struct GGUFTests {
    static let metadata: [(key: String, value: GGUFValue)] = [
        ("general.architecture", .string("deepseek2")),
        ("general.alignment", .uint32(64)),
        ("deepseek2.block_count", .uint32(61)),
        ("deepseek2.expert_weights_scale", .float32(2.5)),
        ("deepseek2.expert_weights_norm", .bool(true)),
        ("test.int8", .int8(-5)), ("test.uint16", .uint16(65535)), ("test.int16", .int16(-300)),
        ("test.int32", .int32(-7)), ("test.uint64", .uint64(1 << 40)), ("test.int64", .int64(-(1 << 40))),
        ("test.float64", .float64(0.1)), ("test.uint8", .uint8(200)),
        ("tokenizer.ggml.tokens", .array(.string(["<｜begin▁of▁sentence｜>", "Ġthe", "", "混合"]))),
        ("tokenizer.ggml.token_type", .array(.int32([3, 1, 5, 1]))),
        ("test.floats", .array(.float32([1.5, -2, 1e30]))),
        ("test.bools", .array(.bool([true, false]))),
    ]
    static let tensors: [GGUFLayout.Tensor] = [
        .init(name: "token_embd.weight", dimensions: [256, 3], type: .q4_K),
        .init(name: "blk.0.attn_norm.weight", dimensions: [7], type: .f32),
        .init(name: "blk.0.attn_k_b.weight", dimensions: [128, 4, 2], type: .q8_0),
        .init(name: "blk.0.ffn_gate_exps.weight", dimensions: [32, 2, 3], type: .iq4_nl),
    ]

    func write() throws -> (String, GGUFLayout, [[UInt8]]) {
        let layout = try GGUFLayout(metadata: Self.metadata, tensors: Self.tensors)
        var random = SplitMix64(seed: 3)
        let data = layout.tensors.map { tensor in (0..<tensor.byteCount).map { _ in UInt8(truncatingIfNeeded: random.next()) } }
        let path = TestSupport.scratchDirectory("gguf") + "/model.gguf"
        try GGUFWriter.write(layout, to: path, data: data)
        return (path, layout, data)
    }

    @Test func roundTripsThroughOurReader() throws {
        let (path, layout, data) = try write()
        let file = try GGUFFile(path: path)
        #expect(file.version == 3 && file.alignment == 64 && file.dataOffset % 64 == 0)
        #expect(file.metadata.map(\.key) == Self.metadata.map(\.key))
        for (key, value) in Self.metadata { #expect(file.value(key) == value, "\(key)") }
        #expect(file.tensors.map(\.name) == Self.tensors.map(\.name))
        for (index, tensor) in file.tensors.enumerated() {
            #expect(tensor.dimensions == Self.tensors[index].dimensions && tensor.type == Self.tensors[index].type)
            #expect(tensor.offset % 64 == 0 && tensor.offset == layout.tensorOffsets[index])
            #expect(Array(file.bytes(of: tensor)) == data[index])
        }
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        #expect(size == layout.fileSize)
    }

    /// gguf-py, llama.cpp's own Python reader, reads every key, type, tensor and byte as written.
    @Test(.enabled(if: TestSupport.oraclesAvailable))
    func ggufPyReadsOurFiles() throws {
        let (path, _, data) = try write()
        let output = try TestSupport.oracle("gguf_read.py", [path])
        let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as! [String: Any]
        let fields = json["fields"] as! [String: [String: Any]]
        #expect(json["alignment"] as? Int == 64)
        #expect(fields["general.architecture"]?["type"] as? String == "STRING" && fields["general.architecture"]?["value"] as? String == "deepseek2")
        #expect(fields["deepseek2.block_count"]?["type"] as? String == "UINT32" && fields["deepseek2.block_count"]?["value"] as? Int == 61)
        #expect(fields["deepseek2.expert_weights_scale"]?["value"] as? Double == 2.5)
        #expect(fields["deepseek2.expert_weights_norm"]?["type"] as? String == "BOOL")
        #expect(fields["test.int64"]?["value"] as? Int == -(1 << 40) && fields["test.uint8"]?["type"] as? String == "UINT8")
        #expect(fields["tokenizer.ggml.tokens"]?["type"] as? String == "ARRAY/STRING")
        #expect(fields["tokenizer.ggml.tokens"]?["value"] as? [String] == ["<｜begin▁of▁sentence｜>", "Ġthe", "", "混合"])
        #expect(fields["tokenizer.ggml.token_type"]?["type"] as? String == "ARRAY/INT32")
        let tensors = json["tensors"] as! [[String: Any]]
        #expect(tensors.map { $0["name"] as! String } == Self.tensors.map(\.name))
        #expect(tensors.map { $0["type"] as! String } == ["Q4_K", "F32", "Q8_0", "IQ4_NL"])
        #expect(tensors.map { $0["shape"] as! [Int] } == Self.tensors.map(\.dimensions))
        for (tensor, bytes) in zip(tensors, data) {
            #expect(tensor["sha256"] as? String == sha256Hex(bytes), "\(tensor["name"]!)")
        }
    }

    @Test func planRejectsWhatLlamaCppWouldRefuse() {
        func error(_ metadata: [(key: String, value: GGUFValue)], _ tensors: [GGUFLayout.Tensor]) -> String {
            do {
                _ = try GGUFLayout(metadata: metadata, tensors: tensors)
                return "no error"
            } catch { return "\(error)" }
        }
        #expect(error([("general.alignment", .uint32(48))], []) == "general.alignment 48 is not a power of two")
        #expect(error([("a", .bool(true)), ("a", .bool(false))], []) == "metadata key 'a' appears twice")
        #expect(error([], [.init(name: "t", dimensions: [128], type: .q4_K)])
            == "tensor 't': dimensions [128] do not fit Q4_K (1 to 4 positive dimensions, the first a multiple of 256)")
        #expect(error([], [.init(name: String(repeating: "x", count: 64), dimensions: [1], type: .f32)]).hasSuffix("is longer than 63 bytes (GGML_MAX_NAME)"))
    }

    /// Hostile files: each gets one clear error, none crashes.
    @Test func readerRejectsHostileFiles() throws {
        let (path, layout, _) = try write()
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        func error(_ bytes: Data) throws -> String {
            let damaged = TestSupport.scratchDirectory("ggufbad") + "/bad.gguf"
            try bytes.write(to: URL(fileURLWithPath: damaged))
            do {
                _ = try GGUFFile(path: damaged)
                return "no error"
            } catch { return "\(error)".replacingOccurrences(of: damaged, with: "FILE") }
        }
        func patched(_ offset: Int, _ bytes: [UInt8]) -> Data {
            var copy = good
            copy.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
            return copy
        }
        #expect(try error(patched(0, Array("GGUX".utf8))) == "FILE: not a GGUF file (magic 47 47 55 58)")
        #expect(try error(patched(4, [4, 0, 0, 0])) == "FILE: GGUF version 4 is not supported (2 and 3 are)")
        #expect(try error(patched(8, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0])).hasPrefix("FILE: header claims 281474976710655 tensors"))
        #expect(try error(good.prefix(100)) == "FILE: header claims 17 metadata entries, more than the file can hold")
        #expect(try error(good.prefix(300)).hasPrefix("FILE: header cut short reading"))
        #expect(try error(good.prefix(layout.fileSize - 64 - 1)).hasPrefix("FILE: truncated: tensor 'blk.0.ffn_gate_exps.weight' ends at byte"))
        #expect(try error(Data([1, 2, 3])) == "FILE: 3 bytes is too small for a GGUF header")
        // The first key's length field claims more bytes than the file has.
        #expect(try error(patched(24, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0])).hasPrefix("FILE: header cut short reading string of"))
        // An unknown tensor type id in the first tensor info (right after the metadata).
        var bytes = layout.headerBytes
        let firstInfo = indexOfTensorInfo(layout)
        let typeField = firstInfo + 8 + "token_embd.weight".utf8.count + 4 + 2 * 8
        bytes.replaceSubrange(typeField..<(typeField + 4), with: [99, 0, 0, 0])
        #expect(try error(Data(bytes) + good.suffix(from: bytes.count)) == "FILE: tensor 'token_embd.weight' has unknown ggml type id 99")
    }

    /// Regression (issue 16): a dimension near 2⁶³ overflowed the row-size computation (a trap in
    /// `check`); a dimension whose data cannot fit in the file is refused before any offset sum.
    @Test func hostileDimensionsAreRefused() throws {
        let (path, layout, _) = try write()
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        // The F32 norm's single dimension, right after its name and dimension count.
        let name = Array("blk.0.attn_norm.weight".utf8)
        let header = layout.headerBytes
        let nameStart = (0...(header.count - name.count)).first { Array(header[$0..<($0 + name.count)]) == name }!
        let dimension = nameStart + name.count + 4
        func error(dimension value: Int64) throws -> String {
            var bytes = good
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(dimension..<(dimension + 8), with: $0) }
            let damaged = TestSupport.scratchDirectory("ggufdim") + "/bad.gguf"
            try bytes.write(to: URL(fileURLWithPath: damaged))
            do {
                _ = try GGUFFile(path: damaged)
                return "no error"
            } catch { return "\(error)".replacingOccurrences(of: damaged, with: "FILE") }
        }
        #expect(try error(dimension: Int64.max - 7) == "FILE: tensor 'blk.0.attn_norm.weight': row size overflows (first dimension 9223372036854775800)")
        #expect(try error(dimension: 1 << 40) == "FILE: tensor 'blk.0.attn_norm.weight': 4398046511104 bytes of data, more than the file's \(good.count)")
        // Found by the GGUF fuzz target: a first dimension of 0 keeps the element count at 0 while
        // the other dimensions' product (the row count) overflows.
        let kb = Array("blk.0.attn_k_b.weight".utf8)
        let kbStart = (0...(header.count - kb.count)).first { Array(header[$0..<($0 + kb.count)]) == kb }!
        var rowsOverflow = good
        for (i, value) in [Int64(0), 1 << 40, 1 << 40].enumerated() {
            let at = kbStart + kb.count + 4 + 8 * i
            withUnsafeBytes(of: value.littleEndian) { rowsOverflow.replaceSubrange(at..<(at + 8), with: $0) }
        }
        let damaged = TestSupport.scratchDirectory("ggufrows") + "/bad.gguf"
        try rowsOverflow.write(to: URL(fileURLWithPath: damaged))
        #expect { try GGUFFile(path: damaged) } throws: { "\($0)" == "\(damaged): tensor 'blk.0.attn_k_b.weight': row count overflows" }
        #expect(GGMLType.f32.rowBytes(Int.max - 7) == nil && GGMLType.q8_0.rowBytes(-32) == nil && GGMLType.q8_0.rowBytes(64) == 68)
    }

    /// Byte offset where the tensor infos start in a layout's header.
    func indexOfTensorInfo(_ layout: GGUFLayout) -> Int {
        let needle = Array("token_embd.weight".utf8)
        let bytes = layout.headerBytes
        for start in 0...(bytes.count - needle.count) where Array(bytes[start..<(start + needle.count)]) == needle { return start - 8 }
        return -1
    }
}

func sha256Hex(_ bytes: [UInt8]) -> String {
    let path = TestSupport.scratchDirectory("sha") + "/blob"
    try! Data(bytes).write(to: URL(fileURLWithPath: path))
    let result = try! TestSupport.run("/usr/bin/sha256sum", [path])
    return String(result.stdout.prefix(64))
}
