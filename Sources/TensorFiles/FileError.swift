#if canImport(Glibc)
import Glibc
#endif

/// An operating-system failure on a named file, rendered as one line: `path: what: reason`.
public struct FileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var operation: String
    public var errno: Int32

    public init(path: String, operation: String, errno: Int32) {
        self.path = path
        self.operation = operation
        self.errno = errno
    }

    public var reason: String { String(cString: strerror(errno)) }
    public var isDiskFull: Bool { errno == ENOSPC || errno == EFBIG || errno == EDQUOT }

    public var description: String {
        var text = "\(path): \(operation) failed: \(reason)"
        if isDiskFull { text += " (disk full or file size limit reached)" }
        return text
    }
}
