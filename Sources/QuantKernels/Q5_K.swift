// The whole of Q5_K: a format whose every operation is a row kernel needs only this file, its line
// in `RowKernels.everyFormat` and its `GGMLType.format` case (formats/blocks.md, "Adding a format").
// Its loops are shared with Q4_K (`KQuantizers.kWithMins`, `SuperBlockDequantizers.kWithMins`).

/// Q5_K: super-blocks of 256 weights in 8 groups of 32, 176 bytes (5.5 bpw).
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 2 | `d` (F16) |
/// | 2 | 2 | `dmin` (F16) |
/// | 4 | 12 | 6-bit scales and mins, packed as Q4_K's |
/// | 16 | 32 | `qh`: bit 2p of byte l = bit 4 of element 64p + l; bit 2p+1 = bit 4 of element 64p + 32 + l |
/// | 48 | 128 | low 4 bits, packed as Q4_K's |
///
/// weight = d·scale_g·q − dmin·min_g with q in 0…31. Quantizers: `quantize_row_q5_K_ref` and, with
/// importance, `quantize_row_q5_K_impl`. Its Quants face is `KernelFormat<Q5_KKernels>`: every
/// operation is a row kernel, so this declaration is the whole format (`GGMLType.format` names it).
public enum Q5_KKernels: RowKernelFormat {
    public static let ggmlType: UInt32 = 13
    @inlinable public static func rowKernels<Half: HalfFloatConversion>(half: Half.Type) -> RowKernels {
        RowKernels(
            ggmlType: ggmlType,
            quantizeWeighted: { KQuantizers.kWithMins($0, count: $1, importance: $2, into: $3, bits: 5, half: Half.self) },
            dequantize: { SuperBlockDequantizers.kWithMins($0, blocks: $1 / 256, into: $2, bits: 5, half: Half.self) })
    }
}
