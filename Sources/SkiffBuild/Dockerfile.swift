import FoundationEssentials
import SkiffCommon

/// One instruction of a Dockerfile, as parsed: nothing substituted yet.
public struct Instruction: Equatable, Sendable {
    /// Upper case: "RUN", "COPY", …
    public var keyword: String
    /// Leading `--name=value` flags (COPY --from, --chown; FROM --platform).
    public var flags: [String: String]
    /// Everything after the keyword and flags, continuation lines joined.
    public var arguments: String
    /// The JSON form's strings (`CMD ["sh", "-c", "x"]`), nil for shell form.
    public var json: [String]?
    /// The line the instruction starts on (1-based).
    public var line: Int
    /// The Dockerfile's text of it, continuation lines joined with spaces.
    public var original: String

    public init(keyword: String, flags: [String: String] = [:], arguments: String, json: [String]? = nil,
                line: Int, original: String) {
        self.keyword = keyword
        self.flags = flags
        self.arguments = arguments
        self.json = json
        self.line = line
        self.original = original
    }
}

/// A parsed Dockerfile: its directives and instructions.
public struct Dockerfile: Equatable, Sendable {
    public var escape: Character
    public var instructions: [Instruction]

    public static let known: Set<String> = [
        "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
        "USER", "WORKDIR", "ARG", "SHELL", "STOPSIGNAL", "ONBUILD", "HEALTHCHECK",
    ]
    /// Known to Docker but not built by Skiff: refused with a clear line.
    static let unsupported: Set<String> = ["ONBUILD", "HEALTHCHECK"]
    /// Instructions whose arguments may be a JSON array.
    static let jsonForms: Set<String> = ["RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"]

    /// Parses `text`; `name` is how errors name the file ("Dockerfile:3: …").
    /// Errors throw a `.usage` SkiffError whose message is that one line.
    public static func parse(_ text: String, name: String = "Dockerfile") throws(SkiffError) -> Dockerfile {
        func fail(_ line: Int, _ message: String) -> SkiffError {
            SkiffError(.invalidData, "\(name):\(line): \(message)")
        }
        // A UTF-8 byte order mark some editors write is not part of the first line.
        let body = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        // "\r\n" is one Character in Swift: Windows line endings split here too.
        let lines = body.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map(String.init)
        var escape: Character = "\\"
        var index = 0
        // Parser directives: `# key=value` lines at the very top.
        var seenDirectives: Set<String> = []
        while index < lines.count {
            guard let (key, value) = directive(lines[index]) else { break }
            if seenDirectives.contains(key) { throw fail(index + 1, "only one \(key) parser directive can be used") }
            seenDirectives.insert(key)
            if key == "escape" {
                guard value == "\\" || value == "`" else {
                    throw fail(index + 1, "invalid escape token '\(value)': it must be \\ or `")
                }
                escape = Character(value)
            }
            index += 1
        }

        var instructions: [Instruction] = []
        while index < lines.count {
            let start = index
            let first = lines[index].trimmingLeadingSpace
            index += 1
            if first.isEmpty || first.hasPrefix("#") { continue }
            // Join continuation lines; comment and empty lines inside are skipped.
            var parts: [String] = []
            var current = first
            while true {
                let trimmed = current.trimmingTrailingSpace
                guard trimmed.last == escape else { parts.append(trimmed); break }
                parts.append(String(trimmed.dropLast()))
                var next: String? = nil
                while index < lines.count {
                    let candidate = lines[index].trimmingLeadingSpace
                    index += 1
                    if candidate.isEmpty || candidate.hasPrefix("#") { continue }
                    next = candidate
                    break
                }
                guard let next else { break }
                current = next
            }
            let joined = parts.joined(separator: " ").trimmingTrailingSpace
            let keywordEnd = joined.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? joined.endIndex
            let keyword = joined[..<keywordEnd].uppercased()
            var rest = String(joined[keywordEnd...]).trimmingLeadingSpace
            guard known.contains(keyword) else {
                throw fail(start + 1, "unknown instruction: \(joined[..<keywordEnd])")
            }
            if unsupported.contains(keyword) {
                throw fail(start + 1, "\(keyword) is not supported by skiff build")
            }
            var flags: [String: String] = [:]
            if ["COPY", "ADD", "FROM", "RUN"].contains(keyword) {
                while rest.hasPrefix("--") {
                    let end = rest.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? rest.endIndex
                    let flag = rest[rest.index(rest.startIndex, offsetBy: 2)..<end]
                    guard let eq = flag.firstIndex(of: "="), eq != flag.startIndex else {
                        throw fail(start + 1, "\(keyword) flag --\(flag) needs a value: --\(flag)=VALUE")
                    }
                    let flagName = String(flag[..<eq])
                    let allowed: [String: Set<String>] = ["COPY": ["from", "chown", "chmod"], "ADD": ["chown", "chmod"],
                                                          "FROM": ["platform"], "RUN": []]
                    guard allowed[keyword]!.contains(flagName) else {
                        throw fail(start + 1, "unknown flag: --\(flagName) for \(keyword)")
                    }
                    flags[flagName] = String(flag[flag.index(after: eq)...])
                    rest = String(rest[end...]).trimmingLeadingSpace
                }
            }
            var json: [String]? = nil
            if jsonForms.contains(keyword), rest.hasPrefix("[") {
                json = jsonArray(rest)
                if json == nil && keyword == "SHELL" {
                    throw fail(start + 1, "SHELL requires the arguments to be a JSON array of strings, e.g. SHELL [\"/bin/sh\", \"-c\"]")
                }
            }
            if keyword == "SHELL" && json == nil {
                throw fail(start + 1, "SHELL requires the arguments to be a JSON array of strings, e.g. SHELL [\"/bin/sh\", \"-c\"]")
            }
            let instruction = Instruction(keyword: keyword, flags: flags, arguments: rest, json: json,
                                          line: start + 1, original: joined)
            try check(instruction, fail: fail)
            instructions.append(instruction)
        }
        guard let firstReal = instructions.first(where: { $0.keyword != "ARG" }) else {
            throw fail(1, "the Dockerfile has no FROM instruction")
        }
        guard firstReal.keyword == "FROM" else {
            throw fail(firstReal.line, "\(firstReal.keyword) before the first FROM: a Dockerfile must start with FROM (only ARG may come before it)")
        }
        return Dockerfile(escape: escape, instructions: instructions)
    }

    /// Arity and shape checks that need no variables.
    private static func check(_ i: Instruction, fail: (Int, String) -> SkiffError) throws(SkiffError) {
        let words = i.arguments.split(whereSeparator: { $0 == " " || $0 == "\t" })
        let empty = i.json == nil ? i.arguments.isEmpty : false
        switch i.keyword {
        case "FROM":
            guard words.count == 1 || (words.count == 3 && words[1].lowercased() == "as") else {
                throw fail(i.line, "FROM needs an image and an optional name: FROM IMAGE [AS NAME]")
            }
        case "COPY", "ADD":
            let count = i.json?.count ?? words.count
            guard count >= 2 else { throw fail(i.line, "\(i.keyword) needs at least a source and a destination") }
        case "ENV", "LABEL":
            guard !empty else { throw fail(i.line, "\(i.keyword) needs at least one KEY=VALUE") }
        case "ARG":
            guard words.count == 1 else { throw fail(i.line, "ARG takes one NAME or NAME=VALUE") }
        case "WORKDIR", "USER", "MAINTAINER", "STOPSIGNAL", "EXPOSE", "VOLUME", "RUN":
            guard !empty else { throw fail(i.line, "\(i.keyword) needs an argument") }
            if (i.keyword == "USER" || i.keyword == "STOPSIGNAL") && words.count != 1 {
                throw fail(i.line, "\(i.keyword) takes exactly one argument")
            }
        default:
            break
        }
        if i.json != nil, i.json!.isEmpty, ["RUN", "SHELL"].contains(i.keyword) {
            throw fail(i.line, "\(i.keyword) needs a command")
        }
    }

    /// `# escape=\`` → ("escape", "`"); nil when the line is no directive.
    static func directive(_ line: String) -> (String, String)? {
        let t = line.trimmingLeadingSpace
        guard t.hasPrefix("#") else { return nil }
        let body = t.dropFirst().trimmingLeadingSpace
        guard let eq = body.firstIndex(of: "=") else { return nil }
        let key = body[..<eq].trimmingTrailingSpace.lowercased()
        guard key == "escape" || key == "syntax" || key == "check" else { return nil }
        return (key, String(body[body.index(after: eq)...]).trimmingLeadingSpace.trimmingTrailingSpace)
    }

    /// A JSON array of strings, or nil when the text is not one.
    static func jsonArray(_ text: String) -> [String]? {
        guard let value = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else { return nil }
        return value
    }
}

extension StringProtocol {
    var trimmingLeadingSpace: String {
        String(drop(while: { $0 == " " || $0 == "\t" }))
    }
    var trimmingTrailingSpace: String {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
