#if canImport(Glibc)
import Glibc
#endif

/// A read-only memory mapping of a whole file. Immutable after `init`, unmapped in `deinit`.
///
/// Pages are read on demand, so mapping a 4 GB shard costs nothing until its bytes are touched,
/// and touched pages are page cache, not process memory: the kernel drops them under pressure.
package final class MappedFile: @unchecked Sendable {
    package let path: String
    package let size: Int
    private let base: UnsafeRawPointer?

    package init(path: String) throws(FileError) {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileError(path: path, operation: "open", errno: errno) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw FileError(path: path, operation: "stat", errno: errno) }
        size = Int(status.st_size)
        if size == 0 {
            base = nil
            return
        }
        let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let mapping, mapping != MAP_FAILED else {
            throw FileError(path: path, operation: "mmap", errno: errno)
        }
        base = UnsafeRawPointer(mapping)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// The mapped bytes. Valid while this object is alive; keep a reference while using them.
    package var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }

    package enum Advice { case sequential, willNeed, dontNeed }

    /// Hints the kernel about an access pattern over `range` (byte offsets into the file).
    package func advise(_ advice: Advice, range: Range<Int>? = nil) {
        guard let base else { return }
        let range = range ?? 0..<size
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        let length = range.upperBound - start
        guard length > 0 else { return }
        let flag: Int32 =
            switch advice {
            case .sequential: MADV_SEQUENTIAL
            case .willNeed: MADV_WILLNEED
            case .dontNeed: MADV_DONTNEED
            }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), length, flag)
    }
}
