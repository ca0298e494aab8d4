import Glibc

/// `{{name}}` in lesson text, commands and checks: a lesson's vars (drawn
/// from the learner's seed) and a few facts of the host.
public enum Template {
    /// `files` is the lesson's files directory (see `LessonFiles`), filled in by the session.
    public static let builtins: Set<String> = ["host.kernel", "host.hostname", "files"]

    /// `shortid.NAME`: the first characters of container NAME's ID, filled
    /// in by the session from the live containers.
    public static func isBuiltin(_ name: String) -> Bool {
        builtins.contains(name) || (name.hasPrefix("shortid.") && name.count > 8)
    }

    public static func names(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            let after = rest[open.upperBound...]
            guard let close = after.range(of: "}}") else { break }
            names.append(after[..<close.lowerBound].trimmingCharacters(in: " "))
            rest = after[close.upperBound...]
        }
        return names
    }

    public static func fill(_ text: String, _ values: [String: String]) -> String {
        guard text.contains("{{") else { return text }
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            let after = rest[open.upperBound...]
            guard let close = after.range(of: "}}") else { out += rest[open.lowerBound...]; return out }
            let name = after[..<close.lowerBound].trimmingCharacters(in: " ")
            out += values[name] ?? Self.builtin(name) ?? "{{\(name)}}"
            rest = after[close.upperBound...]
        }
        return out + rest
    }

    static func builtin(_ name: String) -> String? {
        var u = utsname()
        guard uname(&u) == 0 else { return nil }
        func field<T>(_ value: T) -> String {
            withUnsafePointer(to: value) { $0.withMemoryRebound(to: CChar.self, capacity: MemoryLayout<T>.size) { String(cString: $0) } }
        }
        switch name {
        case "host.kernel": return field(u.release)
        case "host.hostname": return field(u.nodename)
        default: return nil
        }
    }

    /// Each var drawn from the learner's seed: the same learner always gets
    /// the same values; two learners most likely do not.
    public static func draw(_ vars: [VarSpec], seed: UInt64, lesson: String) -> [String: String] {
        var values: [String: String] = [:]
        for v in vars {
            var rng = SplitMix(seed: seed ^ fnv1a(lesson + "/" + v.name))
            if let range = v.range {
                let count = (range.upperBound - range.lowerBound) / v.step + 1
                values[v.name] = String(range.lowerBound + Int(rng.next() % UInt64(count)) * v.step)
            } else if !v.choices.isEmpty {
                values[v.name] = v.choices[Int(rng.next() % UInt64(v.choices.count))]
            }
        }
        return values
    }

    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return h
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String { String(self).trimmingCharacters(in: set) }
}
