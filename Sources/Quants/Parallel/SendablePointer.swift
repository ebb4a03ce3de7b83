/// Raw pointers are not `Sendable`; kernels hand disjoint slices of one buffer to several threads.
/// This wrapper is the one place that asserts the caller keeps the slices disjoint and the
/// buffer alive for the duration of the parallel loop.
package struct SendablePointer<Pointee>: @unchecked Sendable {
    package let pointer: UnsafeMutablePointer<Pointee>
    package init(_ pointer: UnsafeMutablePointer<Pointee>) { self.pointer = pointer }
}

package struct SendableRawPointer: @unchecked Sendable {
    package let pointer: UnsafeRawPointer
    package init(_ pointer: UnsafeRawPointer) { self.pointer = pointer }
}

package struct SendableMutableRawPointer: @unchecked Sendable {
    package let pointer: UnsafeMutableRawPointer
    package init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
}
