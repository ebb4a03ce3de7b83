#if canImport(Glibc)
import Glibc
#endif

/// An operating-system failure on a named file, rendered as one line: `path: what: reason`.
package struct FileError: Error, CustomStringConvertible, Sendable {
    package var path: String
    package var operation: String
    package var errno: Int32

    package init(path: String, operation: String, errno: Int32) {
        self.path = path
        self.operation = operation
        self.errno = errno
    }

    package var reason: String { String(cString: strerror(errno)) }
    package var isDiskFull: Bool { errno == ENOSPC || errno == EFBIG || errno == EDQUOT }

    package var description: String {
        var text = "\(path): \(operation) failed: \(reason)"
        if isDiskFull { text += " (disk full or file size limit reached)" }
        return text
    }
}
