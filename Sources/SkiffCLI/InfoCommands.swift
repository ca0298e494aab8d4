import ArgumentParser
import FoundationEssentials
import Glibc
import SkiffCommon
import SkiffEngine

struct PS: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List containers")
    @Flag(name: [.customShort("a"), .long], help: "Show all containers (default shows just running)") var all = false
    @Flag(name: [.customShort("q"), .long], help: "Only display container IDs") var quiet = false

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        let containers = engine.list(all: all)
        if quiet {
            containers.forEach { print($0.shortID) }
            return 0
        }
        let now = Date()
        let rows = containers.map { c -> [String] in
            [c.shortID, c.config.image, quotedCommand(c.config.command),
             Time.humanDuration(now.timeIntervalSince(c.config.created)) + " ago",
             status(c, now: now), "", c.name]
        }
        print(table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], rows))
        return 0
    }

    func status(_ c: Container, now: Date) -> String {
        switch c.state.status {
        case .created: return "Created"
        case .running: return "Up " + Time.humanDuration(now.timeIntervalSince(c.state.startedAt ?? now))
        case .exited:
            return "Exited (\(c.state.exitCode)) " + Time.humanDuration(now.timeIntervalSince(c.state.finishedAt ?? now)) + " ago"
        }
    }

    /// Docker shows the command quoted and cut at 20 characters.
    func quotedCommand(_ command: [String]) -> String {
        let text = command.joined(separator: " ")
        return "\"" + (text.count > 20 ? String(text.prefix(19)) + "…" : text) + "\""
    }
}

struct Logs: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Fetch the logs of a container")
    @Flag(name: [.customShort("f"), .long], help: "Follow log output") var follow = false
    @Flag(name: [.customShort("t"), .long], help: "Show timestamps") var timestamps = false
    @Option(name: [.customShort("n"), .long], help: "Number of lines to show from the end of the logs") var tail: String = "all"
    @Argument(help: "Container") var container: String

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        var count: Int? = nil
        if tail != "all" {
            guard let n = Int(tail) else { throw SkiffError(.usage, "invalid value for --tail: \(tail) (a number or all)") }
            count = n
        }
        try engine.logs(container, follow: follow, tail: count, timestamps: timestamps) { line in
            let text = (timestamps ? line.time + " " : "") + line.log
            let fd: Int32 = line.stream == "stderr" ? 2 : 1
            try? Files.writeAll(fd, Array(text.utf8), what: "output")
        }
        return 0
    }
}

struct Inspect: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show low-level information on containers, with the kernel objects they own")
    @Argument(help: "Containers") var containers: [String]

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        print(try engine.inspectJSON(containers))
        return 0
    }
}

struct Explain: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "explain", abstract: "Explain in plain words what a container is made of in the kernel")
    @Argument(help: "Container") var container: String

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        print(try engine.explain(container))
        return 0
    }
}

struct Show: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one kind of kernel object of a container: layers, ns, cgroups or all")
    @Argument(help: "What to show: layers (overlay lower dirs and the upper dir), ns, cgroups, all") var what: String
    @Argument(help: "Container") var container: String

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        guard let sections = ExplainSection.named(what) else {
            throw SkiffError(.usage, "show: unknown view \"\(what)\"; use layers, ns, cgroups or all")
        }
        print(try engine.explain(container, sections: sections))
        return 0
    }
}

struct Diff: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "Inspect changes to files in a container's filesystem (A added, C changed, D deleted)")
    @Argument(help: "Container") var container: String

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        for change in try engine.diff(container) { print(change.kind.rawValue + " " + change.path) }
        return 0
    }
}

struct Doctor: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "doctor", abstract: "Check what this machine supports, and how to fix what it lacks")
    @Flag(help: "Run the escape probes, each in a throwaway container, and show what stopped each one") var probes = false
    @Flag(help: "With --probes: make the containers --privileged, to see what that gives away") var privileged = false

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        if privileged && !probes { throw SkiffError(.usage, "--privileged goes with --probes") }
        if probes { return try ProbeTable.run(engine, privileged: privileged) }
        let checks = engine.doctor()
        for check in checks {
            print("\(check.ok ? "ok  " : "FAIL") \(check.name): \(check.detail)")
            if let fix = check.fix, !check.ok { print("     fix: \(fix)") }
        }
        return checks.allSatisfy(\.ok) ? 0 : 1
    }
}
