import SkiffCommon

/// Docker's word rules for Dockerfile arguments: `$NAME`, `${NAME}`,
/// `${NAME:-default}`, `${NAME:+alternative}` are replaced from the build's
/// variables (ARG and ENV); single quotes keep text literal, double quotes
/// group words but still expand; the escape character (`\` or `` ` ``) makes
/// the next character literal. Quotes are removed, as a shell would.
public struct Substitution: Sendable {
    public var variables: [String: String]
    public var escape: Character

    public init(variables: [String: String], escape: Character = "\\") {
        self.variables = variables
        self.escape = escape
    }

    /// The text as one word (WORKDIR, USER, FROM): spaces are kept.
    public func word(_ text: String) throws(SkiffError) -> String {
        try lex(text, split: false).joined(separator: " ")
    }

    /// The text split into words at unquoted blanks (ENV, LABEL, COPY, EXPOSE).
    public func words(_ text: String) throws(SkiffError) -> [String] {
        try lex(text, split: true)
    }

    private func lex(_ text: String, split: Bool) throws(SkiffError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        let chars = Array(text)
        var i = 0
        func flush() {
            if inWord { words.append(current) }
            current = ""
            inWord = false
        }
        while i < chars.count {
            let c = chars[i]
            if split && (c == " " || c == "\t") {
                flush()
                i += 1
                continue
            }
            inWord = true
            if c == escape {
                if i + 1 < chars.count { current.append(chars[i + 1]); i += 2 } else { current.append(c); i += 1 }
            } else if c == "'" {
                guard let close = chars[(i + 1)...].firstIndex(of: "'") else {
                    throw SkiffError(.invalidData, "unterminated single quote in: \(text)")
                }
                current += String(chars[(i + 1)..<close])
                i = close + 1
            } else if c == "\"" {
                i += 1
                var closed = false
                while i < chars.count {
                    let d = chars[i]
                    if d == "\"" { closed = true; i += 1; break }
                    if d == escape, i + 1 < chars.count, ["\"", "$", escape].contains(chars[i + 1]) {
                        current.append(chars[i + 1]); i += 2
                    } else if d == "$" {
                        current += try variable(chars, &i, text)
                    } else {
                        current.append(d); i += 1
                    }
                }
                if !closed { throw SkiffError(.invalidData, "unterminated double quote in: \(text)") }
            } else if c == "$" {
                current += try variable(chars, &i, text)
            } else {
                current.append(c)
                i += 1
            }
        }
        flush()
        return split ? words : [words.joined(separator: " ")]
    }

    /// Reads `$NAME` or `${…}` at chars[i] (a `$`), advancing past it.
    private func variable(_ chars: [Character], _ i: inout Int, _ text: String) throws(SkiffError) -> String {
        func isNameChar(_ c: Character) -> Bool { c == "_" || (c.isASCII && (c.isLetter || c.isNumber)) }
        let start = i + 1
        guard start < chars.count else { i += 1; return "$" }
        if chars[start] == "{" {
            guard let close = chars[start...].firstIndex(of: "}") else {
                throw SkiffError(.invalidData, "missing '}' in variable substitution: \(text)")
            }
            let inner = String(chars[(start + 1)..<close])
            i = close + 1
            if let colon = inner.firstIndex(of: ":") {
                let name = String(inner[..<colon])
                let rest = inner[inner.index(after: colon)...]
                guard let op = rest.first else { throw SkiffError(.invalidData, "bad substitution ${\(inner)} in: \(text)") }
                let operand = try word(String(rest.dropFirst()))
                let value = variables[name] ?? ""
                switch op {
                case "-": return value.isEmpty ? operand : value
                case "+": return value.isEmpty ? "" : operand
                default: throw SkiffError(.invalidData, "unsupported modifier (\(op)) in ${\(inner)}: use ${NAME:-default} or ${NAME:+alternative}")
                }
            }
            guard !inner.isEmpty, inner.allSatisfy(isNameChar) else {
                throw SkiffError(.invalidData, "bad substitution ${\(inner)} in: \(text)")
            }
            return variables[inner] ?? ""
        }
        var end = start
        while end < chars.count, isNameChar(chars[end]) { end += 1 }
        if end == start { i += 1; return "$" }
        i = end
        return variables[String(chars[start..<end])] ?? ""
    }

    /// `KEY=VALUE KEY2="v 2"` pairs (ENV, LABEL), or the old `KEY VALUE…` form.
    public func pairs(_ text: String, instruction: String) throws(SkiffError) -> [(String, String)] {
        let all = try words(text)
        guard let first = all.first else { throw SkiffError(.invalidData, "\(instruction) needs KEY=VALUE") }
        if !first.contains("=") {
            // ENV NAME some value: the rest of the line is the value.
            let trimmed = text.trimmingLeadingSpace
            let nameEnd = trimmed.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? trimmed.endIndex
            let rest = String(trimmed[nameEnd...]).trimmingLeadingSpace
            guard !rest.isEmpty else {
                throw SkiffError(.invalidData, "\(instruction) \(first) needs a value: \(instruction) \(first)=VALUE")
            }
            return [(first, try word(rest))]
        }
        var result: [(String, String)] = []
        for w in all {
            guard let eq = w.firstIndex(of: "="), eq != w.startIndex else {
                throw SkiffError(.invalidData, "\(instruction) needs KEY=VALUE pairs, got '\(w)'")
            }
            result.append((String(w[..<eq]), String(w[w.index(after: eq)...])))
        }
        return result
    }
}
