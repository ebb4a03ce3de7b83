import Foundation
import Quants

/// OpenBLAS, loaded at run time so that moepack can choose its CPU kernels before the library
/// initialises.
///
/// Why not link it: OpenBLAS picks its kernels once, in a load-time constructor, from
/// `OPENBLAS_CORETYPE` or its own CPU detection. Debian's 0.3.21 does not recognise recent Xeons
/// and falls back to its SSE3 "Prescott" kernels, which run SGEMM ~5x slower than the AVX-512
/// "SkylakeX" ones on the same core (measured here: 26 vs 134 GFLOP/s). Loading it with `dlopen`
/// lets us set the core type first when the user has not.
///
/// moepack always calls SGEMM single-threaded and splits work across cores itself, in fixed pieces:
/// OpenBLAS's own threads would oversubscribe ours, and its results for one row can change with the
/// number of threads and rows in a call, which would break determinism.
package enum BLAS {
    typealias SGEMM = @convention(c) (
        Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
        UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32
    ) -> Void

    struct Library: @unchecked Sendable {
        let sgemm: SGEMM
        let coreName: String
    }

    package struct LoadError: Error, CustomStringConvertible {
        package var description: String
    }

    static let library: Result<Library, LoadError> = load()

    /// The kernel family OpenBLAS runs (e.g. "SkylakeX"), or the reason it could not be loaded.
    package static var coreName: String {
        switch library {
        case .success(let lib): lib.coreName
        case .failure(let error): "unavailable (\(error))"
        }
    }

    /// Throws if OpenBLAS cannot be loaded (libopenblas0 missing).
    package static func ensureLoaded() throws {
        _ = try library.get()
    }

    static func load() -> Result<Library, LoadError> {
        if getenv("OPENBLAS_CORETYPE") == nil, let core = preferredCoreType() {
            setenv("OPENBLAS_CORETYPE", core, 0)
        }
        // Its own threads stay off: see the type's comment.
        setenv("OPENBLAS_NUM_THREADS", "1", 1)
        var handle: UnsafeMutableRawPointer?
        for name in ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"] {
            handle = dlopen(name, RTLD_NOW | RTLD_LOCAL)
            if handle != nil { break }
        }
        guard let handle else {
            return .failure(LoadError(description: "cannot load OpenBLAS (libopenblas.so.0): install libopenblas0 (apt-get install libopenblas-dev)"))
        }
        guard let sgemmSymbol = dlsym(handle, "cblas_sgemm") else {
            return .failure(LoadError(description: "libopenblas has no cblas_sgemm"))
        }
        if let setThreads = dlsym(handle, "openblas_set_num_threads") {
            unsafeBitCast(setThreads, to: (@convention(c) (Int32) -> Void).self)(1)
        }
        var core = "unknown"
        if let getCore = dlsym(handle, "openblas_get_corename") {
            let function = unsafeBitCast(getCore, to: (@convention(c) () -> UnsafePointer<CChar>?).self)
            if let name = function() { core = String(cString: name) }
        }
        return .success(Library(sgemm: unsafeBitCast(sgemmSymbol, to: SGEMM.self), coreName: core))
    }

    /// The best OpenBLAS 0.3.21 kernel family for this CPU from /proc/cpuinfo's flags, or nil to
    /// leave the choice to OpenBLAS.
    static func preferredCoreType() -> String? {
        if CPUFeatures.has("avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd") { return "SkylakeX" }
        if CPUFeatures.has("avx2", "fma") { return "Haswell" }
        return nil
    }

    /// The loaded library. Every entry point of the engine calls `ensureLoaded()` first (the model's
    /// initialiser does), so reaching this without a library is a programming error.
    static var loaded: Library {
        guard case .success(let library) = library else { preconditionFailure("BLAS.ensureLoaded() must succeed before any product") }
        return library
    }

    /// `c[m×n] = a[m×k] · b[n×k]ᵀ` (+ `c` when `accumulate`), all row-major with the given leading
    /// dimensions: the shape of every linear layer (`y = x Wᵀ`, W as stored, `[out, in]`).
    @inline(__always)
    package static func multiplyTransposed(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false
    ) {
        guard m > 0, n > 0 else { return }
        // CblasRowMajor 101, CblasNoTrans 111, CblasTrans 112 (cblas.h).
        loaded.sgemm(101, 111, 112, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), accumulate ? 1 : 0, c, Int32(ldc))
    }

    /// `c[m×n] = a[m×k] · b[k×n]` row-major.
    @inline(__always)
    package static func multiply(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        loaded.sgemm(101, 111, 111, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
    }
}
