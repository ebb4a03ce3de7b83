/// Block-scaled FP8 dequantization, the numerics of DeepSeek's `weight_dequant`
/// (`inference/kernel.py`) and of llama.cpp's converter (`dequant_simple`):
///
///     y[r, c] = float(x[r, c]) * scale_inv[r / B, c / B]        (B = 128, one F32 multiply)
///
/// then one rounding into the output type (BF16: round-to-nearest-even, as the Triton store does;
/// F16: IEEE round-to-nearest-even; F32: none). Edge blocks are partial: a tensor with 576 rows
/// has a 5-row scale grid whose last block covers 64 rows. See `formats/deepseek-fp8.md`.
public enum FP8Encoding: String, Sendable {
    case e4m3fn
    case e5m2
}

/// Where a dequantization found a value it refuses to write.
public struct DequantProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case nanCode(UInt8)
        case infinityCode(UInt8)
        case nonFinite(Float)
        case overflow(Float)
    }
    public var row: Int
    public var column: Int
    public var kind: Kind

    public init(row: Int, column: Int, kind: Kind) {
        self.row = row
        self.column = column
        self.kind = kind
    }

    public var description: String {
        switch kind {
        case .nanCode(let code):
            "NaN weight (FP8 code 0x\(String(code, radix: 16, uppercase: true))) at [\(row), \(column)]"
        case .infinityCode(let code):
            "infinite weight (FP8 code 0x\(String(code, radix: 16, uppercase: true))) at [\(row), \(column)]"
        case .nonFinite(let value):
            "\(value.isNaN ? "NaN" : "infinite") weight at [\(row), \(column)]"
        case .overflow(let value):
            "value \(value) at [\(row), \(column)] does not fit the output type"
        }
    }
}

public enum FP8BlockDequant {
    /// Shape of the scale grid for a `rows x columns` weight with square `blockSize` blocks.
    public static func scaleGridShape(rows: Int, columns: Int, blockSize: Int) -> (rows: Int, columns: Int) {
        ((rows + blockSize - 1) / blockSize, (columns + blockSize - 1) / blockSize)
    }

    /// Dequantizes `rows` of a row-major `[*, columns]` FP8 weight.
    ///
    /// - Parameters:
    ///   - weight: start of the whole FP8 tensor.
    ///   - scales: start of the whole row-major F32 scale grid.
    ///   - output: where row `rows.lowerBound` goes; rows follow contiguously.
    /// - Returns: the first problem found, scanning the rows in order, or nil.
    public static func dequantize(
        weight: UnsafePointer<UInt8>, columns: Int, rows: Range<Int>,
        scales: UnsafePointer<Float>, blockSize: Int,
        encoding: FP8Encoding, output: UnsafeMutableRawPointer, outputType: DenseFloatType
    ) -> DequantProblem? {
        let scaleColumns = (columns + blockSize - 1) / blockSize
        for row in rows {
            let source = weight + row * columns
            let destination = output + (row - rows.lowerBound) * columns * outputType.byteWidth
            let scaleRow = scales + (row / blockSize) * scaleColumns
            for block in 0..<scaleColumns {
                let start = block * blockSize
                let count = Swift.min(blockSize, columns - start)
                let problem = dequantizeSegment(
                    source + start, count: count, scale: scaleRow[block], encoding: encoding,
                    output: destination + start * outputType.byteWidth, outputType: outputType)
                if let (offset, kind) = problem {
                    return DequantProblem(row: row, column: start + offset, kind: kind)
                }
            }
        }
        return nil
    }

    /// One run of codes sharing a scale. Returns the offset and kind of the first bad value.
    @inline(__always)
    static func dequantizeSegment(
        _ source: UnsafePointer<UInt8>, count: Int, scale: Float, encoding: FP8Encoding,
        output: UnsafeMutableRawPointer, outputType: DenseFloatType
    ) -> (Int, DequantProblem.Kind)? {
        var index = 0
        if encoding == .e4m3fn {
            let scaleVector = SIMD16<Float>(repeating: scale)
            while index + 16 <= count {
                let codes = UnsafeRawPointer(source + index).loadUnaligned(as: SIMD16<UInt8>.self)
                let wide = SIMD16<UInt32>(truncatingIfNeeded: codes)
                let magnitudeBits = wide & 0x7F
                if any(magnitudeBits .== 0x7F) { break }  // the scalar tail names the NaN
                let magnitude = unsafeBitCast(magnitudeBits &<< 20, to: SIMD16<Float>.self) * 0x1p120
                let signed = unsafeBitCast(
                    unsafeBitCast(magnitude, to: SIMD16<UInt32>.self) | ((wide & 0x80) &<< 24),
                    to: SIMD16<Float>.self)
                let values = signed * scaleVector
                if let bad = store16(values, to: output, at: index, type: outputType) {
                    return (index + bad, .overflow(values[bad]))
                }
                index += 16
            }
        }
        while index < count {
            let code = source[index]
            let decoded: Float
            switch encoding {
            case .e4m3fn:
                if Float8E4M3.isNaN(code) { return (index, .nanCode(code)) }
                decoded = Float8E4M3.decodeFast(code)
            case .e5m2:
                if Float8E5M2.isNaN(code) { return (index, .nanCode(code)) }
                if Float8E5M2.isInfinite(code) { return (index, .infinityCode(code)) }
                decoded = Float8E5M2.decode(code)
            }
            let value = decoded * scale
            if !storeScalar(value, to: output, at: index, type: outputType) {
                return (index, .overflow(value))
            }
            index += 1
        }
        return nil
    }

    /// Stores 16 values; returns the lane that did not fit (non-finite after conversion) or nil.
    @inline(__always)
    static func store16(
        _ values: SIMD16<Float>, to output: UnsafeMutableRawPointer, at index: Int, type: DenseFloatType
    ) -> Int? {
        let bits = unsafeBitCast(values, to: SIMD16<UInt32>.self)
        switch type {
        case .f32:
            output.storeBytes(of: values, toByteOffset: index * 4, as: SIMD16<Float>.self)
        case .bf16:
            let rounded = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
            output.storeBytes(
                of: SIMD16<UInt16>(truncatingIfNeeded: rounded), toByteOffset: index * 2, as: SIMD16<UInt16>.self)
        case .f16:
            let half = unsafeBitCast(SIMD16<Float16>(values), to: SIMD16<UInt16>.self)
            output.storeBytes(of: half, toByteOffset: index * 2, as: SIMD16<UInt16>.self)
            let nonFinite = (half & 0x7C00) .== 0x7C00
            if any(nonFinite) { return (0..<16).first { nonFinite[$0] } }
            return nil
        }
        // F32 and BF16 overflow only when the F32 product already did (NaN/inf exponent bits).
        let nonFinite = (bits & 0x7F80_0000) .== 0x7F80_0000
        if any(nonFinite) { return (0..<16).first { nonFinite[$0] } }
        return nil
    }

    @inline(__always)
    static func storeScalar(_ value: Float, to output: UnsafeMutableRawPointer, at index: Int, type: DenseFloatType)
        -> Bool
    {
        switch type {
        case .f32:
            output.storeBytes(of: value, toByteOffset: index * 4, as: Float.self)
            return value.isFinite
        case .bf16:
            output.storeBytes(of: BFloat16.fromFloat(value), toByteOffset: index * 2, as: UInt16.self)
            return value.isFinite
        case .f16:
            let half = Float16(value)
            output.storeBytes(of: half.bitPattern, toByteOffset: index * 2, as: UInt16.self)
            return half.isFinite
        }
    }
}
