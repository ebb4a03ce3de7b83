#if canImport(Glibc)
import Glibc
#endif

/// A file that appears at its final path only when complete.
///
/// Bytes go to a temporary file in the destination directory (`.NAME.partial-moepack`); `commit()`
/// fsyncs it, renames it over the final path and fsyncs the directory. A process killed before
/// `commit()` leaves at most the temporary file, never a half-written file at the final path,
/// and the next run overwrites that temporary file.
package final class AtomicOutputFile {
    package let finalPath: String
    package let temporaryPath: String
    private var descriptor: Int32
    private var finished = false

    /// - Parameter keepExisting: reopen a temporary file left by an interrupted run instead of
    ///   truncating it (the caller verifies what it reuses).
    package init(path: String, keepExisting: Bool = false) throws {
        finalPath = path
        temporaryPath = Self.temporaryPath(for: path)
        descriptor = open(temporaryPath, O_RDWR | O_CREAT | (keepExisting ? 0 : O_TRUNC) | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileError(path: temporaryPath, operation: "create", errno: errno) }
    }

    /// Where the bytes of `path` live until `commit()`.
    package static func temporaryPath(for path: String) -> String {
        let (directory, name) = splitPath(path)
        return directory + "/." + name + ".partial-moepack"
    }

    /// Flushes everything written so far to the disk (for journals that promise durability).
    package func sync() throws {
        guard fsync(descriptor) == 0 else { throw FileError(path: finalPath, operation: "fsync", errno: errno) }
    }

    /// Keeps the temporary file when this object goes away without `commit()` (an interrupted job
    /// that wants to resume later); by default it is deleted.
    package func keepOnFailure() { finished = true }

    deinit {
        if !finished { abandon() }
    }

    /// Sets the file's length up front, so a full disk shows early (`fallocate`) and positioned
    /// writes can fill it in any order.
    package func reserve(size: Int) throws {
        guard ftruncate(descriptor, off_t(size)) == 0 else {
            throw FileError(path: finalPath, operation: "resize to \(size) bytes", errno: errno)
        }
        let result = posix_fallocate(descriptor, 0, off_t(size))
        // Filesystems without fallocate support answer EOPNOTSUPP/EINVAL; writes still work there.
        if result != 0 && result != EOPNOTSUPP && result != EINVAL {
            throw FileError(path: finalPath, operation: "allocate \(size) bytes", errno: result)
        }
    }

    /// Writes all of `bytes` at `offset`, retrying short writes and interrupted calls.
    package func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let written = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if written < 0 {
                if errno == EINTR { continue }
                throw FileError(path: finalPath, operation: "write at offset \(offset + done)", errno: errno)
            }
            if written == 0 { throw FileError(path: finalPath, operation: "write", errno: ENOSPC) }
            done += written
        }
    }

    package func write(_ bytes: [UInt8], at offset: Int) throws {
        try bytes.withUnsafeBytes { buffer in try write(buffer, at: offset) }
    }

    /// Reads back `count` bytes at `offset` (used to hash what actually reached the file).
    package func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < buffer.count {
            let got = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if got < 0 {
                if errno == EINTR { continue }
                throw FileError(path: temporaryPath, operation: "read back", errno: errno)
            }
            if got == 0 { throw FileError(path: temporaryPath, operation: "read back (unexpected end)", errno: EIO) }
            done += got
        }
    }

    /// Makes the file durable and moves it to its final path.
    package func commit() throws {
        guard fsync(descriptor) == 0 else { throw FileError(path: finalPath, operation: "fsync", errno: errno) }
        guard close(descriptor) == 0 else { throw FileError(path: finalPath, operation: "close", errno: errno) }
        descriptor = -1
        guard rename(temporaryPath, finalPath) == 0 else {
            throw FileError(path: finalPath, operation: "rename from \(temporaryPath)", errno: errno)
        }
        finished = true
        syncDirectory(of: finalPath)
    }

    /// Closes and deletes the temporary file.
    package func abandon() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        unlink(temporaryPath)
        finished = true
    }

    /// Writes a small file atomically in one call.
    package static func write(_ bytes: [UInt8], to path: String) throws {
        let file = try AtomicOutputFile(path: path)
        try file.write(bytes, at: 0)
        try file.commit()
    }
}

func splitPath(_ path: String) -> (directory: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let directory = String(path[..<slash])
    return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
}

func syncDirectory(of path: String) {
    let directory = open(splitPath(path).directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if directory >= 0 {
        fsync(directory)
        close(directory)
    }
}
