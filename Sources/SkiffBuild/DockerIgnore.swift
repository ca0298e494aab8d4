#if canImport(Glibc)
import Glibc
#endif

/// `.dockerignore` as Docker reads it: one pattern a line, `#` comments,
/// `!` re-includes what an earlier line excluded, the last matching line
/// wins. Patterns are relative to the context root (a leading `/` is
/// dropped, `.` and `..` are cleaned away); `*`, `?` and `[…]` match within
/// one path component and `**` matches any number of components. A pattern
/// that matches a directory matches everything below it.
public struct DockerIgnore: Sendable {
    struct Pattern: Sendable {
        var components: [String]
        var exception: Bool
    }

    let patterns: [Pattern]

    public init(_ text: String) {
        var patterns: [Pattern] = []
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var line = raw.trimmingLeadingSpace.trimmingTrailingSpace
            if line.isEmpty || line.hasPrefix("#") { continue }
            var exception = false
            if line.hasPrefix("!") {
                exception = true
                line = String(line.dropFirst()).trimmingLeadingSpace
            }
            let components = ContextPath.clean(line)
            if components.isEmpty { continue }
            patterns.append(Pattern(components: components, exception: exception))
        }
        self.patterns = patterns
    }

    public var isEmpty: Bool { patterns.isEmpty }

    /// Whether `path` (relative to the context, "a/b/c") is left out.
    public func excludes(_ path: String) -> Bool {
        let components = path.split(separator: "/").map(String.init)
        var excluded = false
        for pattern in patterns {
            // The path itself or one of its parent directories.
            var matched = false
            for length in stride(from: components.count, through: 1, by: -1) {
                if Self.match(pattern.components[...], components[..<length]) { matched = true; break }
            }
            if matched { excluded = !pattern.exception }
        }
        return excluded
    }

    static func match(_ pattern: ArraySlice<String>, _ path: ArraySlice<String>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == "**" {
            let rest = pattern.dropFirst()
            for skip in 0...path.count where match(rest, path.dropFirst(skip)) { return true }
            return false
        }
        guard let name = path.first else { return false }
        return glob(first, name) && match(pattern.dropFirst(), path.dropFirst())
    }

    /// One component against one name: `*`, `?`, `[…]` and `\` escapes.
    static func glob(_ pattern: String, _ name: String) -> Bool {
        fnmatch(pattern, name, 0) == 0
    }
}

/// Paths inside the build context, always relative and clean.
public enum ContextPath {
    /// "./a//b/../c/" → ["a", "c"]; ".." never climbs above the root and a
    /// leading "/" means the root, as Docker resolves paths in the context.
    public static func clean(_ path: String) -> [String] {
        var out: [String] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if !out.isEmpty { out.removeLast() }; continue }
            out.append(String(part))
        }
        return out
    }

    /// Whether the path climbs out of where it starts ("../x", "a/../../x").
    public static func escapes(_ path: String) -> Bool {
        var depth = 0
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { depth -= 1; if depth < 0 { return true } } else { depth += 1 }
        }
        return false
    }
}
