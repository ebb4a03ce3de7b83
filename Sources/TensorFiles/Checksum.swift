import CXXHash

/// Streaming XXH3-64 (libxxhash), the checksum moepack stores for every file and tensor it writes.
/// Chosen for speed (well above memory bandwidth) and for being the hash llama.cpp's
/// `gguf-hash` also offers, so users can cross-check.
package struct XXH3Hasher: ~Copyable {
    private let state: OpaquePointer

    package init() {
        state = XXH3_createState()
        XXH3_64bits_reset(state)
    }

    deinit { XXH3_freeState(state) }

    package mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        XXH3_64bits_update(state, base, bytes.count)
    }

    package mutating func finalize() -> UInt64 { XXH3_64bits_digest(state) }

    /// One-shot hash.
    package static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        XXH3_64bits(bytes.baseAddress, bytes.count)
    }

    /// One-shot hash with a seed (binds a frame to the header and position it belongs to).
    package static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        XXH3_64bits_withSeed(bytes.baseAddress, bytes.count, seed)
    }

    /// Fixed-width lower-case hex, as stored in metadata.
    package static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

extension MappedFile {
    /// XXH3-64 of `range`, read chunk by chunk; pages already hashed are dropped from this
    /// process's mapping, so verifying a 4 GB shard does not make the process 4 GB large.
    package func xxh3(of range: Range<Int>, chunkBytes: Int = 32 << 20) -> UInt64 {
        advise(.sequential, range: range)
        var hasher = XXH3Hasher()
        var offset = range.lowerBound
        while offset < range.upperBound {
            let end = min(offset + chunkBytes, range.upperBound)
            hasher.update(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
            advise(.dontNeed, range: range.lowerBound..<end)
            offset = end
        }
        return hasher.finalize()
    }
}
