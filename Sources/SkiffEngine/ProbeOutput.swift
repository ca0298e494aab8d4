import SkiffKernel

/// What `skiff-probe` printed inside the container: each step's result, its
/// notes, and facts about the probing process itself (its capability sets and
/// seccomp mode from /proc/self/status, its namespaces, its mountinfo).
public struct ProbeOutput: Sendable {
    public struct Step: Sendable, Equatable {
        public var name: String
        /// nil when the call succeeded.
        public var errno: Int32?
    }
    public var steps: [Step] = []
    public var notes: [String: String] = [:]
    public var status: [String: String] = [:]
    public var namespaces: [String: String] = [:]
    public var mounts: [MountInfo] = []

    public static func parse(_ text: String) -> ProbeOutput {
        var out = ProbeOutput()
        var mountinfo = ""
        for line in text.split(separator: "\n") {
            let words = line.split(maxSplits: 3, whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard words.count >= 2 else { continue }
            switch words[0] {
            case "step":
                let failed = words.count >= 4 && words[2] == "err"
                out.steps.append(Step(name: words[1], errno: failed ? Int32(words[3]) : nil))
            case "note" where words.count >= 3:
                out.notes[words[1]] = words[2...].joined(separator: " ")
            case "fact" where words.count >= 3:
                out.status[String(words[1].dropLast())] = words[2]
            case "ns" where words.count >= 3:
                out.namespaces[words[1]] = words[2]
            case "mountinfo":
                mountinfo += line.dropFirst("mountinfo ".count) + "\n"
            default:
                continue
            }
        }
        out.mounts = MountInfo.parse(mountinfo)
        return out
    }

    public func step(_ name: String) -> Step? { steps.first { $0.name == name } }
    public func note(_ name: String) -> Int? { notes[name].flatMap { Int($0) } }
    public var capabilities: [String] { Capabilities.decode(status["CapEff"] ?? "") }
    public var seccompFiltering: Bool { status["Seccomp"] == "2" }
    public var refusal: RefusalFacts {
        RefusalFacts(capabilities: capabilities, seccompFiltering: seccompFiltering)
    }

    /// The mount covering exactly `path`, as the probing process saw it.
    public func mount(at path: String) -> MountInfo? { mounts.last { $0.mountPoint == path } }
    public func isReadOnly(_ path: String) -> Bool {
        mount(at: path)?.mountOptions.split(separator: ",").contains("ro") ?? false
    }
}
