import Foundation
import Quants

/// Importance-matrix files (`formats/imatrix.md`):
///
/// - **GGUF** (llama-imatrix's default since 2025): `general.type = "imatrix"`, `imatrix.datasets`
///   (array of strings), `imatrix.chunk_count` and `imatrix.chunk_size` (u32); per entry, sorted by
///   name, an F32 tensor `<name>.in_sum2` `[n/k, k]` and an F32 tensor `<name>.counts` `[1, k]`, where
///   k is the number of counts (one per expert of a stack, else 1). moepack's slice and resume files
///   add `<name>.in_sum2_exact` (I64 pairs: the exact fixed-point sums, so slices merge bit for bit)
///   and `moepack.imatrix.*` keys; llama.cpp ignores both.
/// - **legacy `.dat`** (most published R1 imatrix files): i32 entry count; per entry i32 name
///   length, name, i32 `ncall`, i32 value count, that many f32 `mean(x²)·ncall`; then i32 chunk
///   count and i32 length + dataset name. Read only (llama-imatrix `load_imatrix_legacy`).
package enum ImatrixFile {
    package static let typeKey = GGUFKey.type
    package static let datasetsKey = "imatrix.datasets"
    package static let chunkCountKey = "imatrix.chunk_count"
    package static let chunkSizeKey = "imatrix.chunk_size"
    static let sumsSuffix = ".in_sum2"
    static let countsSuffix = ".counts"
    static let exactSuffix = ".in_sum2_exact"

    /// Extra facts a moepack slice or resume file carries (what it covers, and of what).
    package struct SliceInfo: Sendable, Equatable {
        /// Identifies the model, tokens and context the sums come from; slices merge only when equal.
        package var fingerprint: String
        /// Chunks covered, in the whole text's numbering.
        package var chunks: Range<Int>
        package init(fingerprint: String, chunks: Range<Int>) {
            self.fingerprint = fingerprint
            self.chunks = chunks
        }
    }
    static let fingerprintKey = "moepack.imatrix.fingerprint"
    static let firstChunkKey = "moepack.imatrix.first_chunk"
    static let endChunkKey = "moepack.imatrix.end_chunk"

    // MARK: Reading

    /// Reads either format (GGUF by its magic, else legacy). `legacyChunkSize` converts a legacy
    /// file's per-chunk means back to sums and counts (the format does not store it; llama.cpp
    /// assumes its `-c`, 512 by default).
    package static func read(path: String, legacyChunkSize: Int = 512) throws -> (matrix: ImportanceMatrix, slice: SliceInfo?) {
        try read(mapping: MappedFile(path: path), legacyChunkSize: legacyChunkSize)
    }

    /// The same, from a file already mapped (e.g. one whose bytes were just hashed).
    package static func read(mapping: MappedFile, legacyChunkSize: Int = 512) throws -> (matrix: ImportanceMatrix, slice: SliceInfo?) {
        let path = mapping.path
        if mapping.size >= 4, Array(mapping.bytes.prefix(4)) == GGUFLayout.magic {
            return try readGGUF(GGUFFile(mapping: mapping))
        }
        return (try readLegacy(mapping.bytes, file: path, chunkSize: legacyChunkSize), nil)
    }

    static func readGGUF(_ file: GGUFFile) throws(ImatrixError) -> (matrix: ImportanceMatrix, slice: SliceInfo?) {
        let path = file.path
        func bad(_ detail: String) -> ImatrixError { .malformed(file: path, detail: detail) }
        guard case .string("imatrix") = file.value(typeKey) else {
            throw bad("\(typeKey) is not \"imatrix\" (a model GGUF? pass the importance-matrix file)")
        }
        var matrix = ImportanceMatrix()
        if case .array(.string(let names)) = file.value(datasetsKey) { matrix.datasets = names }
        if case .uint32(let n) = file.value(chunkCountKey) { matrix.chunkCount = Int(n) }
        if case .uint32(let n) = file.value(chunkSizeKey) { matrix.chunkSize = Int(n) }
        var sums: [String: GGUFFile.TensorInfo] = [:], counts: [String: GGUFFile.TensorInfo] = [:], exact: [String: GGUFFile.TensorInfo] = [:]
        for tensor in file.tensors {
            if tensor.name.hasSuffix(exactSuffix) { exact[String(tensor.name.dropLast(exactSuffix.count))] = tensor }
            else if tensor.name.hasSuffix(sumsSuffix) { sums[String(tensor.name.dropLast(sumsSuffix.count))] = tensor }
            else if tensor.name.hasSuffix(countsSuffix) { counts[String(tensor.name.dropLast(countsSuffix.count))] = tensor }
        }
        for (name, sumInfo) in sums {
            guard let countInfo = counts[name] else { throw bad("entry \(name) has \(sumsSuffix) but no \(countsSuffix)") }
            guard sumInfo.type == .f32, countInfo.type == .f32 else { throw bad("entry \(name): in_sum2 and counts must be F32") }
            let values = file.bytes(of: sumInfo).bindMemory(to: Float.self)
            let countValues = file.bytes(of: countInfo).bindMemory(to: Float.self)
            let k = countValues.count
            guard k > 0, values.count > 0, values.count % k == 0 else {
                throw bad("entry \(name): \(values.count) sums do not split into \(k) count(s)")
            }
            var entry = ImportanceMatrix.Entry(columns: values.count / k, matrices: k)
            for (i, c) in countValues.enumerated() {
                guard c.isFinite, c >= 0, c < 9.0e15, c == c.rounded() else { throw bad("entry \(name): count \(c) is not a row count") }
                entry.counts[i] = Int64(c)
            }
            if let exactInfo = exact[name] {
                guard exactInfo.type == .i64, exactInfo.byteCount == values.count * 16 else {
                    throw bad("entry \(name): \(exactSuffix) does not hold \(values.count) exact sums")
                }
                let words = file.bytes(of: exactInfo).bindMemory(to: Int64.self)
                for i in 0..<values.count {
                    let value = Int128(words[2 * i + 1]) << 64 | Int128(UInt64(bitPattern: words[2 * i]))
                    guard value >= 0, value < ImportanceMatrix.limit else { throw bad("entry \(name): exact sum \(i) out of range") }
                    entry.sums[i] = value
                }
            } else {
                for (i, v) in values.enumerated() {
                    guard let fixed = ImportanceMatrix.fixed(Double(v)) else { throw bad("entry \(name): in_sum2[\(i)] = \(v) is not a sum of squares") }
                    entry.sums[i] = fixed
                }
            }
            matrix.entries[name] = entry
        }
        if let orphan = counts.keys.first(where: { sums[$0] == nil }) { throw bad("entry \(orphan) has \(countsSuffix) but no \(sumsSuffix)") }
        guard !matrix.entries.isEmpty else { throw bad("no entries") }
        var slice: SliceInfo?
        if case .string(let fingerprint) = file.value(fingerprintKey), case .uint32(let first) = file.value(firstChunkKey),
            case .uint32(let end) = file.value(endChunkKey)
        {
            guard first <= end else { throw bad("\(firstChunkKey) \(first) is after \(endChunkKey) \(end)") }
            slice = SliceInfo(fingerprint: fingerprint, chunks: Int(first)..<Int(end))
        }
        return (matrix, slice)
    }

    static func readLegacy(_ bytes: UnsafeRawBufferPointer, file: String, chunkSize: Int) throws(ImatrixError) -> ImportanceMatrix {
        func bad(_ detail: String) -> ImatrixError { .malformed(file: file, detail: "legacy .dat: " + detail) }
        var offset = 0
        func int32(_ what: String) throws(ImatrixError) -> Int {
            guard bytes.count - offset >= 4 else { throw bad("file ends inside \(what) at byte \(offset)") }
            let value = bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)
            offset += 4
            return Int(Int32(littleEndian: value))
        }
        let entryCount = try int32("the entry count")
        // Each entry takes at least 4 + 1 + 4 + 4 + 4 bytes.
        guard entryCount >= 1, entryCount <= bytes.count / 17 else { throw bad("entry count \(entryCount) does not fit a file of \(bytes.count) bytes") }
        var matrix = ImportanceMatrix(chunkSize: chunkSize)
        for e in 0..<entryCount {
            let length = try int32("the name length of entry \(e)")
            guard length > 0, length <= 512, length <= bytes.count - offset else { throw bad("entry \(e): name length \(length)") }
            guard let name = String(validating: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)]), as: UTF8.self) else {
                throw bad("entry \(e): name is not UTF-8")
            }
            offset += length
            let calls = try int32("the call count of \(name)")
            let count = try int32("the value count of \(name)")
            guard calls >= 0 else { throw bad("entry \(name): call count \(calls)") }
            guard count > 0, count <= (bytes.count - offset) / 4 else { throw bad("entry \(name): \(count) values do not fit the file") }
            guard matrix.entries[name] == nil else { throw bad("entry \(name) appears twice") }
            // Stored: mean(x²)·ncall per value, one `ncall` for the whole entry. Sums and counts in
            // llama-imatrix's own conversion: sum = value · chunk size, count = ncall · chunk size.
            var entry = ImportanceMatrix.Entry(columns: count)
            entry.counts[0] = Int64(calls) * Int64(chunkSize)
            for i in 0..<count {
                let v = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 4 * i, as: UInt32.self)))
                guard let fixed = ImportanceMatrix.fixed(Double(v) * Double(chunkSize)) else { throw bad("entry \(name): value \(i) = \(v) is not a mean of squares") }
                entry.sums[i] = fixed
            }
            offset += 4 * count
            matrix.entries[name] = entry
        }
        // Optional trailer: chunk count, then the dataset name.
        if bytes.count - offset >= 4 {
            let chunks = try int32("the chunk count")
            guard chunks >= 0 else { throw bad("chunk count \(chunks)") }
            matrix.chunkCount = chunks
            if bytes.count - offset >= 4 {
                let length = try int32("the dataset name length")
                guard length >= 0, length <= bytes.count - offset else { throw bad("dataset name length \(length)") }
                if length > 0 {
                    matrix.datasets = [String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)]), as: UTF8.self)]
                }
            }
        }
        return matrix
    }

    // MARK: Writing

    /// The GGUF layout and tensor bytes of `matrix` (entries sorted by name, as llama-imatrix writes
    /// them); with `slice`, the exact sums and what the slice covers as well.
    package static func encode(_ matrix: ImportanceMatrix, slice: SliceInfo? = nil) throws -> (layout: GGUFLayout, data: [[UInt8]]) {
        var metadata: [(key: String, value: GGUFValue)] = [
            (typeKey, .string("imatrix")),
            (datasetsKey, .array(.string(matrix.datasets))),
            (chunkCountKey, .uint32(try u32(matrix.chunkCount, "chunk count"))),
            (chunkSizeKey, .uint32(try u32(matrix.chunkSize, "chunk size"))),
        ]
        if let slice {
            metadata += [
                (fingerprintKey, .string(slice.fingerprint)),
                (firstChunkKey, .uint32(try u32(slice.chunks.lowerBound, "first chunk"))),
                (endChunkKey, .uint32(try u32(slice.chunks.upperBound, "end chunk"))),
            ]
        }
        var tensors: [GGUFLayout.Tensor] = []
        var data: [[UInt8]] = []
        for name in matrix.entries.keys.sorted() {
            let entry = matrix.entries[name]!
            let k = entry.counts.count
            let values = entry.sums.map { Float(ImportanceMatrix.double($0)) }
            tensors.append(.init(name: name + sumsSuffix, dimensions: [values.count / k, k], type: .f32))
            data.append(bytes(of: values))
            tensors.append(.init(name: name + countsSuffix, dimensions: [1, k], type: .f32))
            data.append(bytes(of: entry.counts.map { Float($0) }))
            if slice != nil {
                var words: [Int64] = []
                words.reserveCapacity(2 * entry.sums.count)
                for s in entry.sums {
                    words.append(Int64(bitPattern: UInt64(truncatingIfNeeded: s)))
                    words.append(Int64(truncatingIfNeeded: s >> 64))
                }
                tensors.append(.init(name: name + exactSuffix, dimensions: [2 * entry.sums.count / k, k], type: .i64))
                data.append(bytes(of: words))
            }
        }
        return (try GGUFLayout(metadata: metadata, tensors: tensors), data)
    }

    /// Writes `matrix` atomically (temporary name, fsync, rename).
    package static func write(_ matrix: ImportanceMatrix, slice: SliceInfo? = nil, to path: String) throws {
        let (layout, data) = try encode(matrix, slice: slice)
        try GGUFWriter.write(layout, to: path, data: data)
    }

    static func u32(_ value: Int, _ what: String) throws(ImatrixError) -> UInt32 {
        guard let v = UInt32(exactly: value) else { throw .mismatch(entry: "-", detail: "\(what) \(value) does not fit the file's u32") }
        return v
    }

    static func bytes<T>(of values: [T]) -> [UInt8] {
        values.withUnsafeBytes { Array($0) }  // little-endian hosts only (x86-64, arm64), like the rest of moepack
    }
}
