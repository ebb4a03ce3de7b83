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
/// importance, `quantize_row_q5_K_impl`.
public enum Q5_K: BlockFormat {
    public static let type = GGMLType.q5_K

    public static func quantizeRow(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        BlockKernels.active.quantizeQ5_K(x, count, importance, y)
    }

    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        BlockKernels.active.dequantizeQ5_K(y, count / 256, x)
    }
}
