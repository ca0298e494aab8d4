#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The one error type of Skiff. `message` is one line a learner can act on;
/// `exitCode` follows Docker: 125 for Skiff's own errors, 126 when the command
/// cannot be invoked, 127 when it is not found.
public struct SkiffError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case usage          // bad flag or argument
        case notFound       // no such container, image, file
        case conflict       // name taken, container running, ambiguous prefix
        case permission     // needs root, refused by the kernel
        case unsupported    // kernel or machine lacks a feature
        case system         // a syscall failed
        case cannotInvoke   // 126: the command exists but cannot be run
        case commandNotFound // 127: the command does not exist in the container
        case invalidData    // corrupt blob, bad JSON, hostile archive
    }

    public var kind: Kind
    public var message: String
    /// errno of the failing call, when there was one.
    public var errno: Int32?

    public init(_ kind: Kind, _ message: String, errno: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.errno = errno
    }

    /// A failed syscall: names what Skiff was doing and what the kernel said.
    public static func system(_ doing: String, errno code: Int32 = Glibc.errno) -> SkiffError {
        let kind: Kind = (code == EPERM || code == EACCES) ? .permission : .system
        return SkiffError(kind, "\(doing): \(String(cString: strerror(code)))", errno: code)
    }

    public var exitCode: Int32 {
        switch kind {
        case .cannotInvoke: return 126
        case .commandNotFound: return 127
        default: return 125
        }
    }

    public var description: String { message }
}
