/// Block-scaled FP8 dequantization, the numerics of DeepSeek's `weight_dequant`
/// (`inference/kernel.py`) and of llama.cpp's converter (`dequant_simple`):
///
///     y[r, c] = float(x[r, c]) * scale_inv[r / B, c / B]        (B = 128, one F32 multiply)
///
/// then one rounding into the output type (BF16: round-to-nearest-even, as the Triton store does;
/// F16: IEEE round-to-nearest-even; F32: none). Edge blocks are partial: a tensor with 576 rows
/// has a 5-row scale grid whose last block covers 64 rows. See `formats/deepseek-fp8.md`.
package enum FP8Encoding: String, Sendable {
    case e4m3fn
    case e5m2
}

/// Where a dequantization found a value it refuses to write.
package struct DequantProblem: Sendable, Equatable, CustomStringConvertible {
    package enum Kind: Sendable, Equatable {
        case nanCode(UInt8)
        case infinityCode(UInt8)
        case nonFinite(Float)
        case overflow(Float)
    }
    package var row: Int
    package var column: Int
    package var kind: Kind

    package init(row: Int, column: Int, kind: Kind) {
        self.row = row
        self.column = column
        self.kind = kind
    }

    package var description: String {
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

package enum FP8BlockDequant {
    /// Shape of the scale grid for a `rows x columns` weight with square `blockSize` blocks.
    package static func scaleGridShape(rows: Int, columns: Int, blockSize: Int) -> (rows: Int, columns: Int) {
        ((rows + blockSize - 1) / blockSize, (columns + blockSize - 1) / blockSize)
    }

    /// Dequantizes `rows` of a row-major `[*, columns]` FP8 weight.
    ///
    /// - Parameters:
    ///   - weight: start of the whole FP8 tensor.
    ///   - scales: start of the whole row-major F32 scale grid.
    ///   - output: where row `rows.lowerBound` goes; rows follow contiguously.
    /// - Returns: the first problem found, scanning the rows in order, or nil.
    package static func dequantize(
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
        // F16 tops out at 65504: with a scale above 146 an E4M3 code can overflow it, so such
        // segments take the checked scalar path. F32/BF16 cannot overflow (scales are validated).
        let vectorizable = encoding == .e4m3fn && (outputType != .f16 || scale.magnitude * Float8E4M3.maxFinite < 65504)
        if vectorizable {
            let scaleVector = SIMD16<Float>(repeating: scale)
            while index + 16 <= count {
                let raw = UnsafeRawPointer(source + index)
                // Any NaN code in these 16 bytes? Then the scalar tail finds and names it.
                if containsE4M3NaN(raw.loadUnaligned(as: UInt64.self))
                    || containsE4M3NaN(raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                {
                    break
                }
                let wide = SIMD16<UInt32>(truncatingIfNeeded: raw.loadUnaligned(as: SIMD16<UInt8>.self))
                let magnitude = unsafeBitCast((wide & 0x7F) &<< 20, to: SIMD16<Float>.self) * 0x1p120
                let signed = unsafeBitCast(
                    unsafeBitCast(magnitude, to: SIMD16<UInt32>.self) | ((wide & 0x80) &<< 24),
                    to: SIMD16<Float>.self)
                store16(signed * scaleVector, to: output, at: index, type: outputType)
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

    /// True if any of the 8 bytes is an E4M3 NaN code (`x & 0x7F == 0x7F`): the classic
    /// "has a zero byte" bit trick applied to `~(x | 0x80)`, whose byte is zero exactly for NaNs.
    @inline(__always)
    static func containsE4M3NaN(_ bytes: UInt64) -> Bool {
        let inverted = ~(bytes | 0x8080_8080_8080_8080)
        return (inverted &- 0x0101_0101_0101_0101) & ~inverted & 0x8080_8080_8080_8080 != 0
    }

    /// Stores 16 finite values in the output type (BF16 with round-to-nearest-even).
    @inline(__always)
    static func store16(_ values: SIMD16<Float>, to output: UnsafeMutableRawPointer, at index: Int, type: DenseFloatType) {
        switch type {
        case .f32:
            output.storeBytes(of: values, toByteOffset: index * 4, as: SIMD16<Float>.self)
        case .bf16:
            let bits = unsafeBitCast(values, to: SIMD16<UInt32>.self)
            let rounded = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
            output.storeBytes(
                of: SIMD16<UInt16>(truncatingIfNeeded: rounded), toByteOffset: index * 2, as: SIMD16<UInt16>.self)
        case .f16:
            output.storeBytes(
                of: unsafeBitCast(SIMD16<Float16>(values), to: SIMD16<UInt16>.self), toByteOffset: index * 2,
                as: SIMD16<UInt16>.self)
        }
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
