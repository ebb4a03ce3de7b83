/// GPT-2's byte-level alphabet (`bytes_to_unicode`): every byte maps to one printable character so
/// that BPE can work on text while covering all 256 byte values. Printable Latin-1 bytes map to
/// themselves; the others to U+0100 onwards in byte order.
package enum ByteLevel {
    /// Character for each byte value.
    package static let characters: [Character] = {
        var mapping = [Int](repeating: -1, count: 256)
        for byte in Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF) { mapping[byte] = byte }
        var next = 256
        for byte in 0...255 where mapping[byte] < 0 {
            mapping[byte] = next
            next += 1
        }
        return mapping.map { Character(Unicode.Scalar(UInt32($0))!) }
    }()

    /// Byte value for each alphabet scalar (nil for scalars outside the alphabet).
    package static func byte(for scalar: Unicode.Scalar) -> UInt8? { inverse[scalar.value] }

    private static let inverse: [UInt32: UInt8] = {
        var table: [UInt32: UInt8] = [:]
        for (byte, character) in characters.enumerated() { table[character.unicodeScalars.first!.value] = UInt8(byte) }
        return table
    }()
}
