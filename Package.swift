// swift-tools-version:6.0
import PackageDescription

// Layout (see README "Code tour"):
//   Quants       pure numeric kernels: FP8/BF16/F16 scalars, block dequantization, parallelFor. No I/O.
//   TensorFiles  the only module that parses untrusted bytes: mmap, safetensors reader/writer, checksums.
//   DeepSeekV3   the model's config and its checkpoint layout (tensor names, shapes, dtypes).
//   Inference    the DeepSeek-V3 forward pass over FP8 or GGUF weights, perplexity, KL-divergence.
//   Conversion   jobs built on the above: dequantize a checkpoint, synthesize checkpoints, benchmarks.
//   moepack      the command-line tool; it only parses arguments and reports.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

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
        .target(name: "Quants", swiftSettings: swiftSettings),
        .target(
            name: "TensorFiles",
            dependencies: ["Quants", "CXXHash"],
            swiftSettings: swiftSettings),
        .target(
            name: "DeepSeekV3",
            dependencies: ["Quants", "TensorFiles"],
            swiftSettings: swiftSettings),
        .target(
            name: "Conversion",
            dependencies: ["Quants", "TensorFiles", "DeepSeekV3"],
            swiftSettings: swiftSettings),
        .target(
            name: "Inference",
            dependencies: ["Quants", "TensorFiles", "DeepSeekV3", "CZstd"],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "moepack",
            dependencies: [
                "Conversion", "DeepSeekV3", "Inference", "TensorFiles", "Quants",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: swiftSettings),
        .testTarget(
            name: "QuantsTests", dependencies: ["Quants", "TestSupport"], resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "TensorFilesTests", dependencies: ["TensorFiles", "Quants", "TestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "DeepSeekV3Tests", dependencies: ["DeepSeekV3", "TensorFiles", "TestSupport"],
            resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(
            name: "ConversionTests",
            dependencies: ["Conversion", "DeepSeekV3", "TensorFiles", "Quants", "TestSupport", "moepack"],
            resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(
            name: "InferenceTests",
            dependencies: ["Inference", "Conversion", "DeepSeekV3", "TensorFiles", "Quants", "TestSupport", "moepack"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "moepackTests", dependencies: ["moepack", "DeepSeekV3", "TestSupport"], swiftSettings: swiftSettings),
    ]
)
