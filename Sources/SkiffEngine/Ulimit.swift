import SkiffCommon

/// `--ulimit NAME=SOFT[:HARD]` (Docker's names; -1 means unlimited), shown by
/// inspect as Docker does: {"Name": "nofile", "Soft": 100, "Hard": 200}.
public struct Ulimit: Codable, Sendable, Equatable {
    public var name: String
    public var soft: Int64
    public var hard: Int64

    enum CodingKeys: String, CodingKey {
        case name = "Name", soft = "Soft", hard = "Hard"
    }

    public init(name: String, soft: Int64, hard: Int64) {
        self.name = name
        self.soft = soft
        self.hard = hard
    }

    /// setrlimit's resource number for each name Docker accepts (Linux's
    /// generic numbering, asm-generic/resource.h: x86, arm, riscv, s390, ppc;
    /// Swift's Glibc exports only some of the RLIMIT_ names).
    static let resources: [String: Int32] = [
        "cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5, "nproc": 6, "nofile": 7,
        "memlock": 8, "as": 9, "locks": 10, "sigpending": 11, "msgqueue": 12, "nice": 13, "rtprio": 14, "rttime": 15,
    ]

    public static func parse(_ text: String) throws(SkiffError) -> Ulimit {
        guard let eq = text.firstIndex(of: "=") else {
            throw SkiffError(.usage, "invalid ulimit argument: \(text) (use NAME=SOFT[:HARD], e.g. nofile=1024:2048)")
        }
        let name = String(text[..<eq])
        guard resources[name] != nil else {
            throw SkiffError(.usage, "invalid ulimit type: \(name) (one of \(resources.keys.sorted().joined(separator: ", ")))")
        }
        let values = text[text.index(after: eq)...].split(separator: ":", omittingEmptySubsequences: false)
        guard values.count == 1 || values.count == 2 else {
            throw SkiffError(.usage, "too many limit value arguments - \(text), can only have up to two, `soft[:hard]`")
        }
        func number(_ s: Substring) throws(SkiffError) -> Int64 {
            guard let n = Int64(s), n >= -1 else {
                throw SkiffError(.usage, "invalid ulimit value \"\(s)\" in \(text): give a number, or -1 for unlimited")
            }
            return n
        }
        let soft = try number(values[0])
        let hard = values.count == 2 ? try number(values[1]) : soft
        // -1 is unlimited: larger than any number.
        if hard != -1 && (soft == -1 || soft > hard) {
            throw SkiffError(.usage, "ulimit soft limit must be less than or equal to hard limit: \(soft) > \(hard)")
        }
        return Ulimit(name: name, soft: soft, hard: hard)
    }

    /// The spawn helper's `--rlimit NAME RESOURCE SOFT HARD`.
    var spawnArguments: [String] {
        func raw(_ n: Int64) -> String { n == -1 ? String(UInt64.max) : String(n) }
        return ["--rlimit", name, String(Ulimit.resources[name] ?? -1), raw(soft), raw(hard)]
    }
}
