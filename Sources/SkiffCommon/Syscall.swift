#if canImport(Glibc)
import Glibc
#endif

/// Runs a syscall wrapper, retrying on EINTR, and throws `SkiffError` naming
/// what was being done when it returns -1.
@discardableResult
public func syscall<T: FixedWidthInteger>(_ doing: @autoclosure () -> String, _ call: () -> T) throws(SkiffError) -> T {
    while true {
        let result = call()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw SkiffError.system(doing(), errno: code)
    }
}

/// Root check used by commands that touch the kernel.
public var isRoot: Bool { geteuid() == 0 }
