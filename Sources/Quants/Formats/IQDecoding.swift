import QuantKernels

// The IQ1/IQ2/IQ3 formats' lane kernels (QuantKernels' IQKernels.swift, per SIMD level through BlockKernels).

// MARK: - Fused dot products (the decoded weights times the vector, summed in lanes)

extension IQ2_XXS: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        BlockKernels.active.dotIQ(.iq2_xxs, blocks, vector, count / 256)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        BlockKernels.active.dotIQBF16(.iq2_xxs, blocks, vector, count / 256)
    }
}

extension IQ2_XS: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        BlockKernels.active.dotIQ(.iq2_xs, blocks, vector, count / 256)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        BlockKernels.active.dotIQBF16(.iq2_xs, blocks, vector, count / 256)
    }
}

extension IQ2_S: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        BlockKernels.active.dotIQ(.iq2_s, blocks, vector, count / 256)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        BlockKernels.active.dotIQBF16(.iq2_s, blocks, vector, count / 256)
    }
}

extension IQ3_XXS: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        BlockKernels.active.dotIQ(.iq3_xxs, blocks, vector, count / 256)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        BlockKernels.active.dotIQBF16(.iq3_xxs, blocks, vector, count / 256)
    }
}

extension IQ3_S: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        BlockKernels.active.dotIQ(.iq3_s, blocks, vector, count / 256)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        BlockKernels.active.dotIQBF16(.iq3_s, blocks, vector, count / 256)
    }
}

extension IQ1_S: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        BlockKernels.active.dotIQ(.iq1_s, blocks, vector, count / 256)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        BlockKernels.active.dotIQBF16(.iq1_s, blocks, vector, count / 256)
    }
}

extension IQ1_M: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        BlockKernels.active.dotIQ(.iq1_m, blocks, vector, count / 256)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        BlockKernels.active.dotIQBF16(.iq1_m, blocks, vector, count / 256)
    }
}

// MARK: - Dequantizers (eight lanes per step; bit-identical to the scalar references `dequantizeRowReference`)

extension IQ2_XXS {
    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        BlockKernels.active.dequantizeIQ(.iq2_xxs, y, count / 256, x)
    }
}

extension IQ2_XS {
    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        BlockKernels.active.dequantizeIQ(.iq2_xs, y, count / 256, x)
    }
}

extension IQ2_S {
    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        BlockKernels.active.dequantizeIQ(.iq2_s, y, count / 256, x)
    }
}

extension IQ3_XXS {
    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        BlockKernels.active.dequantizeIQ(.iq3_xxs, y, count / 256, x)
    }
}

extension IQ3_S {
    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        BlockKernels.active.dequantizeIQ(.iq3_s, y, count / 256, x)
    }
}

extension IQ1_S {
    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        BlockKernels.active.dequantizeIQ(.iq1_s, y, count / 256, x)
    }
}

extension IQ1_M {
    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        BlockKernels.active.dequantizeIQ(.iq1_m, y, count / 256, x)
    }
}
