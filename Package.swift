// swift-tools-version:6.0
import PackageDescription

// Layout (see README "Code tour"):
//   QuantKernels the legacy block formats' SIMD loops, written once as @inlinable code and compiled twice:
//                for baseline x86-64/arm64 here, and for AVX2 CPUs in QuantKernelsAVX2 (x86-64 hosts only).
//   AVX512Kernels  C for its per-function target attributes: the AVX-512 BF16 products of the engine's
//                --precision bf16 mode, and log-softmax's f64 reductions (the same bits as QuantKernels').
//   Quants       pure numeric kernels: FP8/BF16/F16 scalars, block dequantization, parallelFor. No I/O.
//   TensorFiles  the only module that parses untrusted bytes: mmap, safetensors reader/writer, checksums.
//   DeepSeekV3   the model's config and its checkpoint layout (tensor names, shapes, dtypes).
//   Inference    the DeepSeek-V3 forward pass over FP8 or GGUF weights, perplexity, KL-divergence.
//   Conversion   the jobs: dequantize a checkpoint, quantize to GGUF (recipes, imatrix, --target-size).
//   SyntheticModels  deterministic synthetic checkpoints, tokenizer and corpus (demo, tests, benchmarks).
//   Benchmarks   the benchmark jobs and child-process timing, apart from the product code.
//   moepack      the command-line tool; it only parses arguments and reports.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// Swift has no per-function target attributes, so the AVX2 build of the kernels is a module of its
/// own compiled for Haswell; Quants picks it at run time when the CPU has AVX2, FMA, F16C and BMI2.
/// (`#if arch` here is the host's architecture: the manifest runs on the machine that builds.)
#if arch(x86_64)
let avx2KernelTargets: [Target] = [
    .target(
        name: "QuantKernelsAVX2", dependencies: ["QuantKernels"],
        swiftSettings: swiftSettings + [.unsafeFlags(["-target-cpu", "haswell", "-disable-cmo"])]),
]
let avx2KernelDependencies: [Target.Dependency] = ["QuantKernelsAVX2"]
#else
let avx2KernelTargets: [Target] = []
let avx2KernelDependencies: [Target.Dependency] = []
#endif

let package = Package(
    name: "moepack",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "moepack", targets: ["moepack"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(
            name: "CXXHash", pkgConfig: "libxxhash",
            providers: [.apt(["libxxhash-dev"])]),
        .target(name: "QuantKernels", swiftSettings: swiftSettings),
        .target(name: "AVX512Kernels"),
        .target(name: "Quants", dependencies: ["QuantKernels", "AVX512Kernels"] + avx2KernelDependencies, swiftSettings: swiftSettings),
        .target(
            name: "TensorFiles",
            dependencies: ["Quants", "CXXHash", "CZstd"],
            swiftSettings: swiftSettings),
        .target(
            name: "DeepSeekV3",
            dependencies: ["Quants", "TensorFiles"],
            swiftSettings: swiftSettings),
        .target(
            name: "Conversion",
            dependencies: ["Quants", "TensorFiles", "DeepSeekV3", "Inference"],
            swiftSettings: swiftSettings),
        .target(
            name: "SyntheticModels",
            dependencies: ["Quants", "TensorFiles", "DeepSeekV3", "Conversion"],
            swiftSettings: swiftSettings),
        .target(
            name: "Benchmarks",
            dependencies: ["Quants", "TensorFiles", "DeepSeekV3", "Inference", "Conversion", "SyntheticModels"],
            swiftSettings: swiftSettings),
        .target(
            name: "Inference",
            dependencies: ["Quants", "TensorFiles", "DeepSeekV3", "CZstd", "AVX512Kernels"],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "moepack",
            dependencies: [
                "Conversion", "DeepSeekV3", "Inference", "TensorFiles", "Quants", "SyntheticModels", "Benchmarks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: swiftSettings),
        .testTarget(
            name: "QuantsTests", dependencies: ["Quants", "QuantKernels", "AVX512Kernels", "TestSupport"], resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "TensorFilesTests", dependencies: ["TensorFiles", "Quants", "TestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "DeepSeekV3Tests", dependencies: ["DeepSeekV3", "TensorFiles", "TestSupport"],
            resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(
            name: "ConversionTests",
            dependencies: ["Conversion", "SyntheticModels", "Benchmarks", "DeepSeekV3", "TensorFiles", "Quants", "TestSupport", "moepack"],
            resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(
            name: "InferenceTests",
            dependencies: ["Inference", "AVX512Kernels", "Conversion", "SyntheticModels", "DeepSeekV3", "TensorFiles", "Quants", "TestSupport", "moepack"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "moepackTests", dependencies: ["moepack", "DeepSeekV3", "TestSupport"], swiftSettings: swiftSettings),
    ] + avx2KernelTargets
)
