import Dispatch
import Quants
import Synchronization
import TensorFiles

/// Writes pieces of an output file on a background thread, in submission order, hashing them as
/// they go, so that computing the next piece overlaps with the kernel copying this one into the
/// page cache (that copy is a third of a conversion's time on two cores).
///
/// Two buffers are handed out in turn; `buffer()` waits until the write that last used the buffer
/// has finished. The first error stops all later work and is rethrown by `finish()` (and by the
/// next `buffer()` call). One writer serves a whole job: `begin(file:)` starts each output file, so
/// the buffers are allocated once (re-allocating multi-MiB blocks per file fragments the heap).
final class OrderedWriter: @unchecked Sendable {
    private var file: AtomicOutputFile?
    private let queue = DispatchQueue(label: "moepack.ordered-writer")
    private let buffers: [UnsafeMutableRawBufferPointer]
    private let available: [DispatchSemaphore]
    private var next = 0
    /// Buffers handed out by `buffer()` and not yet passed to `write` (caller's thread only).
    private var checkedOut = [false, false]
    private let failure = Mutex<(any Error)?>(nil)
    // Mutated only on `queue`.
    private var hasher = XXH3Hasher()

    init(bufferBytes: Int) {
        buffers = (0..<2).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: bufferBytes, alignment: 64) }
        available = (0..<2).map { _ in DispatchSemaphore(value: 1) }
    }

    deinit {
        queue.sync {}
        returnCheckedOutBuffers()
        buffers.forEach { $0.deallocate() }
    }

    /// A caller that failed between `buffer()` and `write` gives its buffer back here; libdispatch
    /// traps if a semaphore is destroyed below its initial value.
    private func returnCheckedOutBuffers() {
        for index in checkedOut.indices where checkedOut[index] {
            checkedOut[index] = false
            available[index].signal()
        }
    }

    /// Starts a new output file: resets the checksum and any earlier failure.
    func begin(file: AtomicOutputFile) {
        queue.sync {
            self.file = file
            hasher = XXH3Hasher()
        }
        failure.withLock { $0 = nil }
    }

    /// The next free buffer; fill at most its size, then pass it to `write`.
    func buffer() throws -> (index: Int, bytes: UnsafeMutableRawBufferPointer) {
        let index = next
        next ^= 1
        available[index].wait()
        if let error = failure.withLock({ $0 }) {
            available[index].signal()
            throw error
        }
        checkedOut[index] = true
        return (index, buffers[index])
    }

    /// Queues `count` bytes of buffer `index` for writing at `offset`.
    func write(buffer index: Int, count: Int, at offset: Int) {
        let bytes = SendableMutableRawPointer(buffers[index].baseAddress!)
        checkedOut[index] = false
        queue.async { [self] in
            defer { available[index].signal() }
            perform { try self.writeAndHash(UnsafeRawBufferPointer(start: bytes.pointer, count: count), at: offset) }
        }
    }

    /// Queues bytes that live elsewhere (a mapped input); `check` runs first on the writer thread.
    func write(
        _ source: UnsafeRawBufferPointer, at offset: Int, check: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void,
        then done: @escaping @Sendable () -> Void
    ) {
        let start = source.baseAddress.map { SendableRawPointer($0) }
        let count = source.count
        queue.async { [self] in
            perform {
                let bytes = UnsafeRawBufferPointer(start: start?.pointer, count: count)
                try check(bytes)
                try self.writeAndHash(bytes, at: offset)
                done()
            }
        }
    }

    /// Waits for every queued write; returns the XXH3 of all bytes written, in order.
    func finish() throws -> UInt64 {
        queue.sync {}
        returnCheckedOutBuffers()
        if let error = failure.withLock({ $0 }) { throw error }
        return queue.sync { hasher.finalize() }
    }

    func fail(_ error: any Error) {
        failure.withLock { if $0 == nil { $0 = error } }
    }

    private func perform(_ work: () throws -> Void) {
        guard failure.withLock({ $0 == nil }) else { return }
        do { try work() } catch { fail(error) }
    }

    private func writeAndHash(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        try file!.write(bytes, at: offset)
        hasher.update(bytes)
    }
}
