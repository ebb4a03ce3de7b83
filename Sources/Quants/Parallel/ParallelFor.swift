import Dispatch

/// Runs `body` over `0..<count` split into contiguous ranges on up to `threads` threads, and
/// returns when all are done. Each index is handled exactly once, so results never depend on the
/// thread count as long as `body` writes only to the indices it is given.
package func parallelFor(
    _ count: Int, threads: Int, minimumPerThread: Int = 1, _ body: @Sendable (Range<Int>) -> Void
) {
    guard count > 0 else { return }
    let workers = Swift.max(1, Swift.min(threads, count / Swift.max(1, minimumPerThread)))
    if workers == 1 {
        body(0..<count)
        return
    }
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
        let start = count * worker / workers
        let end = count * (worker + 1) / workers
        if start < end { body(start..<end) }
    }
}

/// The number of cores this process may use.
package var availableCoreCount: Int {
    #if canImport(Glibc)
    return Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    #else
    return 1
    #endif
}

#if canImport(Glibc)
import Glibc
#endif
