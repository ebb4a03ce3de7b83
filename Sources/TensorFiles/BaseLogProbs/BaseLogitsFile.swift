import CZstd
import Foundation
import Quants

/// The original model's log-probabilities for the scored positions of every chunk, saved once by
/// `verify --save-base` and compared against any number of converted models later (`--base`).
/// Layout (`formats/base-logprobs.md`, version 2): magic `MPBASE02`, u64 header length, u64 XXH3-64
/// of the header, a JSON header (settings, model, chunk range, vocabulary, token count and
/// fingerprint), then frames, each a u64 length, a u64 XXH3-64 of the frame's bytes seeded with
/// the header's checksum plus the frame's index, and one zstd frame: first the text's token ids
/// (u32), then per chunk `positions × vocab` f32 log-probs; all little-endian. Every byte is covered
/// by a checksum, and every frame is bound to its header and its place. Log-probs are stored
/// exactly (f32), so comparing against the file gives the same figures as the live model.
package struct BaseLogitsHeader: Codable, Sendable, Equatable {
    package static let currentVersion = 2
    package var format = "moepack base log-probabilities"
    package var version = Self.currentVersion
    package var model: String
    package var context: Int
    package var vocabulary: Int
    package var firstChunk: Int
    package var chunkCount: Int
    package var positions: Int
    package var bos: Int?
    package var tokenCount: Int
    package var tokensXXH3: String

    package init(model: String, context: Int, vocabulary: Int, firstChunk: Int, chunkCount: Int, positions: Int, bos: Int?, tokenCount: Int, tokensXXH3: String) {
        self.model = model
        self.context = context
        self.vocabulary = vocabulary
        self.firstChunk = firstChunk
        self.chunkCount = chunkCount
        self.positions = positions
        self.bos = bos
        self.tokenCount = tokenCount
        self.tokensXXH3 = tokensXXH3
    }
}

package enum BaseLogitsError: Error, CustomStringConvertible {
    case invalid(file: String, message: String)
    package var description: String {
        switch self {
        case .invalid(let file, let message): "\(file): \(message)"
        }
    }
}

enum Zstd {
    /// No zstd frame expands by more than this factor: the densest block is an RLE block, 4 bytes
    /// (3-byte block header, 1 byte) for 128 KiB. Declared sizes above `frame × ratio` are lies.
    static let maximumRatio = 32768

    static func compress(_ bytes: UnsafeRawBufferPointer, level: Int32 = 3) -> [UInt8] {
        let bound = ZSTD_compressBound(bytes.count)
        var output = [UInt8](repeating: 0, count: bound)
        let size = output.withUnsafeMutableBytes { ZSTD_compress($0.baseAddress, bound, bytes.baseAddress, bytes.count, level) }
        precondition(ZSTD_isError(size) == 0, "zstd compression cannot fail with a ZSTD_compressBound buffer")
        output.removeLast(bound - size)
        return output
    }

    /// The decompressed size the frame's header declares, if it declares one.
    static func contentSize(_ frame: UnsafeRawBufferPointer) -> UInt64? {
        let size = ZSTD_getFrameContentSize(frame.baseAddress, frame.count)
        return size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR ? nil : UInt64(size)
    }

    static func decompress(_ frame: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        let size = ZSTD_decompress(output.baseAddress, output.count, frame.baseAddress, frame.count)
        return ZSTD_isError(size) == 0 && size == output.count
    }
}

package final class BaseLogitsWriter {
    static let magic = Array("MPBASE02".utf8)
    let file: AtomicOutputFile
    var offset = 0
    var frameIndex: UInt64 = 0
    let headerChecksum: UInt64
    package let header: BaseLogitsHeader

    package init(path: String, header: BaseLogitsHeader, tokens: [Int]) throws {
        file = try AtomicOutputFile(path: path)
        self.header = header
        let json = [UInt8](try JSONEncoder.sorted.encode(header))
        headerChecksum = json.withUnsafeBytes { XXH3Hasher.hash($0) }
        try append(Self.magic)
        try append(Self.littleEndian(UInt64(json.count)))
        try append(Self.littleEndian(headerChecksum))
        try append(json)
        let ids = tokens.map { UInt32(truncatingIfNeeded: $0) }
        try appendFrame(ids.withUnsafeBytes { Zstd.compress($0) })
    }

    static func littleEndian(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    /// The checksum of frame `index`: seeded with the header's, so frames cannot be moved between
    /// files or places unnoticed.
    static func frameChecksum(_ frame: UnsafeRawBufferPointer, header: UInt64, index: UInt64) -> UInt64 {
        XXH3Hasher.hash(frame, seed: header &+ index)
    }

    func append(_ bytes: [UInt8]) throws {
        try file.write(bytes, at: offset)
        offset += bytes.count
    }

    func appendFrame(_ frame: [UInt8]) throws {
        let checksum = frame.withUnsafeBytes { Self.frameChecksum($0, header: headerChecksum, index: frameIndex) }
        try append(Self.littleEndian(UInt64(frame.count)) + Self.littleEndian(checksum))
        try append(frame)
        frameIndex += 1
    }

    /// Appends the next chunk's `[positions, vocab]` log-probs (row-major).
    package func append(_ logProbabilities: UnsafeBufferPointer<Float>) throws {
        try appendFrame(Zstd.compress(UnsafeRawBufferPointer(logProbabilities)))
    }

    /// fsync and rename into place.
    package func commit() throws { try file.commit() }
}

package final class BaseLogitsReader {
    package let path: String
    package let header: BaseLogitsHeader
    package let tokens: [Int]
    let mapping: MappedFile
    let headerChecksum: UInt64
    /// Byte range of each chunk's zstd frame and its stored checksum, in chunk order.
    let frames: [(range: Range<Int>, checksum: UInt64)]
    /// Bytes of one chunk's log-probs (`positions × vocabulary × 4`).
    let chunkBytes: Int
    var nextChunk: Int

    /// Opens and checks the file before allocating anything it describes: every header field is
    /// bounded by the format and the file length, the frame table must end exactly at the end of
    /// the file, and the token frame's checksum, size and ids are verified. Chunk frames are
    /// verified against their checksums when read.
    package init(path: String) throws {
        self.path = path
        mapping = try MappedFile(path: path)
        let bytes = mapping.bytes
        func fail(_ message: String) -> BaseLogitsError { .invalid(file: path, message: message) }
        /// The little-endian u64 at `offset` (bounds-checked; callers bound the value).
        func u64(at offset: Int) throws -> UInt64 {
            guard offset >= 0, offset <= bytes.count - 8 else { throw fail("truncated at byte \(offset)") }
            var value: UInt64 = 0
            for i in 0..<8 { value |= UInt64(bytes[offset + i]) << (8 * i) }
            return value
        }
        guard bytes.count >= 8, String(decoding: bytes[0..<7], as: UTF8.self) == "MPBASE0" else {
            throw fail("not a moepack base log-probabilities file (magic MPBASE02)")
        }
        guard Array(bytes[0..<8]) == BaseLogitsWriter.magic else {
            throw fail("base log-probabilities format \(String(decoding: bytes[0..<8], as: UTF8.self)) is not supported (this moepack reads MPBASE02, with a checksum on every frame); save the base again with verify --save-base")
        }
        guard bytes.count >= 24 else { throw fail("truncated: \(bytes.count) bytes, less than the 24 before the header") }
        let rawHeaderLength = try u64(at: 8)
        headerChecksum = try u64(at: 16)
        guard rawHeaderLength <= UInt64(bytes.count - 24) else { throw fail("header length \(rawHeaderLength) exceeds the file (\(bytes.count) bytes)") }
        let headerLength = Int(rawHeaderLength)
        let json = UnsafeRawBufferPointer(rebasing: bytes[24..<(24 + headerLength)])
        guard XXH3Hasher.hash(json) == headerChecksum else { throw fail("header does not match its checksum (corrupt file)") }
        guard let header = try? JSONDecoder().decode(BaseLogitsHeader.self, from: Data(json)) else { throw fail("unreadable header") }
        guard header.version == BaseLogitsHeader.currentVersion else { throw fail("header version \(header.version), expected \(BaseLogitsHeader.currentVersion)") }
        self.header = header

        // Header fields, each against the format and the file length.
        let h = header
        guard h.tokenCount >= 0, h.tokenCount <= bytes.count / 4 * Zstd.maximumRatio else {
            throw fail("header field tokenCount \(h.tokenCount) is impossible for a file of \(bytes.count) bytes")
        }
        guard h.context >= 2, h.context <= h.tokenCount else { throw fail("header field context \(h.context) must be in 2...tokenCount (\(h.tokenCount))") }
        guard h.positions == h.context - 1 - h.context / 2 else {
            throw fail("header field positions \(h.positions), expected \(h.context - 1 - h.context / 2) for context \(h.context)")
        }
        guard h.vocabulary >= 1, h.vocabulary <= Int(Int32.max) else { throw fail("header field vocabulary \(h.vocabulary) must be in 1...\(Int32.max)") }
        guard let bytesPerChunk = CheckedArithmetic.product(h.positions, h.vocabulary, 4) else {
            throw fail("header fields positions × vocabulary overflow (\(h.positions) × \(h.vocabulary))")
        }
        chunkBytes = bytesPerChunk
        let available = h.tokenCount / h.context
        guard h.firstChunk >= 0, h.firstChunk <= available else { throw fail("header field firstChunk \(h.firstChunk) must be in 0...\(available)") }
        guard h.chunkCount >= 0, h.chunkCount <= available - h.firstChunk else {
            throw fail("header field chunkCount \(h.chunkCount): chunks \(h.firstChunk)..<\(h.firstChunk) + \(h.chunkCount) exceed the \(available) chunks of the text")
        }
        if let bos = h.bos, bos < 0 || bos >= h.vocabulary { throw fail("header field bos \(bos) outside the vocabulary 0..<\(h.vocabulary)") }

        // The frame table: 1 + chunkCount frames of (length, checksum, bytes), ending at the end.
        var position = 24 + headerLength
        guard h.chunkCount < (bytes.count - position) / 16 else { throw fail("header field chunkCount \(h.chunkCount) exceeds what the file can hold") }
        var table: [(range: Range<Int>, checksum: UInt64)] = []
        table.reserveCapacity(h.chunkCount + 1)
        for index in 0...h.chunkCount {
            let what = index == 0 ? "token frame" : "chunk \(h.firstChunk + index - 1)"
            guard position <= bytes.count - 16 else { throw fail("\(what) is truncated (file ends at byte \(bytes.count))") }
            let length = try u64(at: position)
            let checksum = try u64(at: position + 8)
            position += 16
            guard length <= UInt64(bytes.count - position) else { throw fail("\(what): frame length \(length) exceeds the file") }
            let expected = index == 0 ? h.tokenCount * 4 : chunkBytes
            guard expected / Zstd.maximumRatio <= Int(length) else {
                throw fail("\(what): a \(length)-byte frame cannot hold \(expected) bytes (corrupt length or header)")
            }
            table.append((position..<(position + Int(length)), checksum))
            position += Int(length)
        }
        guard position == bytes.count else { throw fail("\(bytes.count - position) unexpected bytes after the last chunk (corrupt length or header)") }
        frames = Array(table.dropFirst())

        // The token frame.
        let tokenFrame = try Self.verifiedFrame(table[0], index: 0, expectedBytes: h.tokenCount * 4, in: bytes, headerChecksum: headerChecksum, what: "token frame", fail: fail)
        var ids = [UInt32](repeating: 0, count: h.tokenCount)
        let ok = ids.withUnsafeMutableBytes { Zstd.decompress(tokenFrame, into: $0) }
        guard ok else { throw fail("token frame is corrupt (zstd)") }
        if let bad = ids.firstIndex(where: { Int($0) >= h.vocabulary }) {
            throw fail("token \(bad) has id \(ids[bad]), outside the vocabulary 0..<\(h.vocabulary)")
        }
        tokens = ids.map { Int($0) }
        guard TokenFingerprint.xxh3(tokens) == header.tokensXXH3 else { throw fail("token ids do not match their fingerprint") }
        nextChunk = header.firstChunk
    }

    /// The frame's bytes after its checksum and its declared size are checked.
    static func verifiedFrame(
        _ frame: (range: Range<Int>, checksum: UInt64), index: UInt64, expectedBytes: Int, in bytes: UnsafeRawBufferPointer,
        headerChecksum: UInt64, what: String, fail: (String) -> BaseLogitsError
    ) throws -> UnsafeRawBufferPointer {
        let data = UnsafeRawBufferPointer(rebasing: bytes[frame.range])
        guard BaseLogitsWriter.frameChecksum(data, header: headerChecksum, index: index) == frame.checksum else {
            throw fail("\(what) does not match its checksum (corrupt file)")
        }
        guard Zstd.contentSize(data) == UInt64(expectedBytes) else {
            throw fail("\(what): frame does not declare \(expectedBytes) bytes (corrupt file)")
        }
        return data
    }

    /// The next chunk's `[positions, vocab]` log-probs, row-major, into `output` (which has room
    /// for `positions · vocabulary` values); returns the chunk's index. Chunks are stored in order.
    package func next(into output: UnsafeMutableBufferPointer<Float>) throws -> Int {
        func fail(_ message: String) -> BaseLogitsError { .invalid(file: path, message: message) }
        let index = nextChunk - header.firstChunk
        guard index >= 0, index < frames.count else {
            throw fail("no chunk \(nextChunk): the file holds chunks \(header.firstChunk)..<\(header.firstChunk + header.chunkCount)")
        }
        let frame = try Self.verifiedFrame(
            frames[index], index: UInt64(index + 1), expectedBytes: chunkBytes, in: mapping.bytes, headerChecksum: headerChecksum,
            what: "chunk \(nextChunk)", fail: fail)
        precondition(output.count >= header.positions * header.vocabulary, "buffer smaller than a chunk")
        let values = UnsafeMutableBufferPointer(rebasing: output[0..<(header.positions * header.vocabulary)])
        guard Zstd.decompress(frame, into: UnsafeMutableRawBufferPointer(values)) else {
            throw fail("chunk \(nextChunk) is corrupt (zstd)")
        }
        if let bad = values.indices.first(where: { !(values[$0] <= 0) }) {
            throw fail("chunk \(nextChunk): log-probability \(values[bad]) at position \(bad / header.vocabulary), token \(bad % header.vocabulary) is not ≤ 0")
        }
        defer { nextChunk += 1 }
        return nextChunk
    }

    /// The same, into a new array.
    package func next() throws -> (chunk: Int, logProbabilities: [Float]) {
        var values = [Float](repeating: 0, count: header.positions * header.vocabulary)
        let chunk = try values.withUnsafeMutableBufferPointer { try next(into: $0) }
        return (chunk, values)
    }

    /// Moves to chunk `index` (frames are found from the table read at open; none is decoded).
    package func seek(to index: Int) throws {
        guard index >= header.firstChunk, index <= header.firstChunk + header.chunkCount else {
            throw BaseLogitsError.invalid(file: path, message: "no chunk \(index): the file holds chunks \(header.firstChunk)..<\(header.firstChunk + header.chunkCount)")
        }
        if index > nextChunk { nextChunk = index }
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return encoder
    }
}

/// XXH3-64 (hex) of token ids as u32 little-endian: the text's fingerprint in base-log-prob and
/// results files.
package enum TokenFingerprint {
    package static func xxh3(_ tokens: [Int]) -> String {
        XXH3Hasher.hex(tokens.map { UInt32(truncatingIfNeeded: $0) }.withUnsafeBytes { XXH3Hasher.hash($0) })
    }
}
