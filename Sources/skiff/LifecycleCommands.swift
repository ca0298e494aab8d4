import ArgumentParser
import Glibc
import SkiffCommon
import SkiffEngine

/// Runs `body` for each container named, printing the name as Docker does;
/// the first error is reported after all were tried.
func forEachContainer(_ names: [String], _ body: (String) throws(SkiffError) -> Void) throws(SkiffError) -> Int32 {
    var failed = false
    for name in names {
        do {
            try body(name)
            print(name)
        } catch {
            printError(error.message)
            failed = true
        }
    }
    return failed ? 1 : 0
}

struct Start: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start one or more stopped containers")
    @Flag(name: [.customShort("a"), .long], help: "Attach STDOUT/STDERR and forward signals") var attach = false
    @Argument(help: "Containers (name, ID or unique ID prefix)") var containers: [String]

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        if attach, containers.count == 1 {
            return try engine.start(engine.container(containers[0]), attach: .standard) ?? 0
        }
        return try forEachContainer(containers) { (name) throws(SkiffError) in
            try engine.start(engine.container(name), attach: nil)
        }
    }
}

struct Stop: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop one or more running containers")
    @Option(name: [.customShort("t"), .long], help: "Seconds to wait before killing it") var time = 10
    @Argument(help: "Containers") var containers: [String]

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        try forEachContainer(containers) { (name) throws(SkiffError) in try engine.stop(name, timeout: time) }
    }
}

struct Restart: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "restart", abstract: "Restart one or more containers")
    @Option(name: [.customShort("t"), .long], help: "Seconds to wait before killing it") var time = 10
    @Argument(help: "Containers") var containers: [String]

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        try forEachContainer(containers) { (name) throws(SkiffError) in try engine.restart(name, timeout: time) }
    }
}

struct Kill: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Kill one or more running containers")
    @Option(name: [.customShort("s"), .long], help: "Signal to send") var signal = "KILL"
    @Argument(help: "Containers") var containers: [String]

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        _ = try Signals.parse(signal)
        return try forEachContainer(containers) { (name) throws(SkiffError) in try engine.kill(name, signal: signal) }
    }
}

struct Remove: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more containers")
    @Flag(name: [.customShort("f"), .long], help: "Force the removal of a running container") var force = false
    @Argument(help: "Containers") var containers: [String]

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        try forEachContainer(containers) { (name) throws(SkiffError) in try engine.remove(name, force: force) }
    }
}

struct Wait: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "wait", abstract: "Block until a container stops, then print its exit code")
    @Argument(help: "Containers") var containers: [String]

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        for name in containers { print(try engine.wait(name)) }
        return 0
    }
}

struct Exec: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "Run a command in a running container")
    static var passesContainerCodes: Bool { true }
    @Flag(name: [.customShort("i"), .long], help: "Keep STDIN open") var interactive = false
    @Flag(name: [.customShort("t"), .long], help: "Allocate a pseudo-TTY") var tty = false
    @Option(name: [.customShort("e"), .long], help: "Set environment variables") var env: [String] = []
    @Option(name: [.customShort("w"), .customLong("workdir")], help: "Working directory inside the container") var workdir: String?
    @Option(name: [.customShort("u"), .long], help: "Username or UID (format: <name|uid>[:<group|gid>])") var user: String?
    @Argument(help: "Container") var container: String
    @Argument(parsing: .captureForPassthrough, help: "Command and arguments") var command: [String] = []

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        var spec = ExecSpec(command: command)
        spec.env = env
        spec.workingDir = workdir
        spec.user = user
        spec.interactive = interactive
        spec.tty = tty && isatty(0) == 1
        return try engine.exec(container, spec)
    }
}
