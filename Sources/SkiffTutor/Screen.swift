import Glibc

/// What the tutor prints: colour when standard output is a terminal and
/// NO_COLOR is not set, plain text otherwise.
public struct Screen: Sendable {
    public var color: Bool

    public init(color: Bool) { self.color = color }

    public static func detect() -> Screen {
        let noColor = getenv("NO_COLOR").map { $0.pointee != 0 } ?? false
        let dumb = getenv("TERM").map { String(cString: $0) == "dumb" } ?? false
        return Screen(color: isatty(1) == 1 && !noColor && !dumb)
    }

    func paint(_ code: String, _ s: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
    public func bold(_ s: String) -> String { paint("1", s) }
    public func dim(_ s: String) -> String { paint("2", s) }
    public func green(_ s: String) -> String { paint("32", s) }
    public func red(_ s: String) -> String { paint("31", s) }
    public func yellow(_ s: String) -> String { paint("33", s) }
    public func cyan(_ s: String) -> String { paint("36", s) }

    /// Prints and flushes, so that our lines and a container's output,
    /// written straight to the same descriptor, stay in order.
    public func say(_ s: String = "") {
        print(s)
        fflush(nil)
    }

    /// Readline needs \001 and \002 around escape sequences in a prompt.
    public func prompt(_ s: String) -> String {
        color ? "\u{01}\u{1B}[1;36m\u{02}\(s)\u{01}\u{1B}[0m\u{02}" : s
    }
}
