import ArgumentParser
import Glibc
import SkiffCommon
import SkiffEngine

public struct Skiff: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "skiff",
        abstract: "A small, real container runtime for learning how containers work.",
        discussion: "Commands follow Docker's: `skiff run -it busybox sh` works, with or without a leading `docker`.",
        subcommands: [Run.self, Create.self, Start.self, Stop.self, Restart.self, Kill.self, Remove.self,
                      Exec.self, PS.self, Logs.self, Inspect.self, Explain.self, Diff.self, Images.self,
                      Pull.self, Wait.self, Doctor.self, TutorCommand.self, LessonsCommand.self, Tag.self, Rmi.self,
                      History.self, Save.self, Load.self, Commit.self, ImageCommand.self, Show.self, LayerBench.self,
                      Build.self])
}

/// A parsed command line, ready to run against the engine. Returns the
/// process's exit code; errors are thrown as SkiffError.
public protocol EngineCommand {
    func execute(_ engine: Engine) throws(SkiffError) -> Int32
    /// Docker exits 125 when `run` itself fails (126/127 for the command);
    /// other commands exit 1 on errors and 125 on bad flags.
    static var passesContainerCodes: Bool { get }
}

/// Every subcommand: parsed by ArgumentParser, run against the engine.
public protocol SkiffCommand: ParsableCommand, EngineCommand {}

extension SkiffCommand {
    public static var passesContainerCodes: Bool { false }
    public func run() throws {}
}

public enum CLI {
    /// `cgroupMoveStarted`: the early cgroup move of `run` is under way
    /// already (the `skiff` binary starts it before the Swift runtime).
    /// `prelaunched`: the spawn helper it started for `run` too.
    public static func main(_ arguments: [String], cgroupMoveStarted: Bool = false,
                            prelaunched: (pid: Int32, status: Int32, channel: Int32, initChannel: Int32)? = nil) -> Int32 {
        // The tutor and the lesson linter live in a binary of their own
        // (they bring YAML and all of Foundation): start-up of every other
        // command stays small.
        if arguments.first == "tutor" || arguments.first == "lessons" { TutorBinary.exec(arguments) }
        let engine = Engine(proxiesSignals: true, reapsHelpers: false)
        // `run` is the hot path: the kernel's wait for the first cgroup move
        // started before main (else the helper starts it), and so did the
        // spawn helper (else it starts now); it gets its command line once
        // the container exists (see Engine.run).
        if arguments.first == "run" {
            Trace.mark("engine ready")
            if let prelaunched {
                engine.adoptPrelaunchedHelper(pid: prelaunched.pid, status: prelaunched.status, channel: prelaunched.channel,
                                              initChannel: prelaunched.initChannel)
            } else {
                engine.prelaunchHelper(warm: !cgroupMoveStarted)
            }
        }
        let code = dispatch(arguments, engine)
        engine.discardPrelaunchedHelper()
        return code
    }

    /// One command line run in this process against `engine`: the CLI's
    /// whole job, and what the tutor does with every command typed at it.
    public static func dispatch(_ arguments: [String], _ engine: Engine) -> Int32 {
        dispatch(arguments, engine, root: Skiff.self)
    }

    /// The same for another root command (the tutor's binary has its own).
    public static func dispatch(_ arguments: [String], _ engine: Engine, root: any ParsableCommand.Type) -> Int32 {
        Trace.mark("parse start")
        let isSkiff = ObjectIdentifier(root) == ObjectIdentifier(Skiff.self)
        // `run` is the hot path. Its own reader takes ordinary command lines
        // without touching ArgumentParser, whose first use costs about 2 ms;
        // it refuses anything it is not sure of, which then goes on below.
        if isSkiff, arguments.first == "run", let request = RunFastPath.read(arguments.dropFirst()) {
            Trace.mark("parsed")
            return perform(request, engine)
        }
        let command: ParsableCommand
        do {
            // Parsing `run` on its own skips building the whole command tree
            // (about a millisecond). Anything odd, --help included, goes
            // through the root for the right message.
            if isSkiff, arguments.first == "run", let run = try? Run.parse(Array(arguments.dropFirst())) {
                command = run
            } else {
                command = try root.parseAsRoot(arguments)
            }
        } catch {
            if root.exitCode(for: error) == .success {
                print(root.fullMessage(for: error))
                return 0
            }
            printError(root.message(for: error))
            let sub = arguments.first.map { " " + $0 } ?? ""
            printError("See 'skiff\(sub) --help'.", prefixed: false)
            return 125
        }
        Trace.mark("parsed")
        guard let skiffCommand = command as? any SkiffCommand else {
            // `help`, `--help` and command groups: ArgumentParser's own run()
            // prints the help (as a CleanExit) for the command asked about.
            var other = command
            do {
                try other.run()
                return 0
            } catch {
                if root.exitCode(for: error) == .success {
                    print(root.fullMessage(for: error))
                    return 0
                }
                printError(root.message(for: error))
                return 125
            }
        }
        return perform(skiffCommand, engine)
    }

    /// Runs a parsed command line and turns its error into a message and
    /// Docker's exit code.
    static func perform(_ command: any EngineCommand, _ engine: Engine) -> Int32 {
        // Our buffered output first: a foreground run may exec or hand the
        // terminal to a container.
        fflush(nil)
        defer { fflush(nil) }
        do {
            return try command.execute(engine)
        } catch {
            printError(error.message)
            if type(of: command).passesContainerCodes { return error.exitCode }
            return error.kind == .usage ? 125 : 1
        }
    }
}

public func printError(_ message: String, prefixed: Bool = true) {
    let line = (prefixed ? "skiff: " : "") + message + "\n"
    try? Files.writeAll(2, Array(line.utf8), what: "stderr")
}

/// Docker's tables: columns padded to the widest cell plus three spaces.
func table(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        var out = ""
        for (i, cell) in cells.enumerated() {
            out += cell
            if i < cells.count - 1 { out += String(repeating: " ", count: widths[i] - cell.count + 3) }
        }
        return out
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}

/// `skiff tutor` and `skiff lessons` run `skiff-tutor`, which sits beside
/// `skiff` (or SKIFF_TUTOR). Listed here so that `skiff --help` shows them.
enum TutorBinary {
    static func exec(_ arguments: [String]) -> Never {
        let path = locate()
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        fflush(nil)
        execv(path, argv)
        printError("cannot start the tutor \(path): \(String(cString: strerror(errno))) (skiff-tutor must sit beside skiff, or set SKIFF_TUTOR)")
        exit(127)
    }

    static func locate() -> String {
        Helper.sibling("skiff-tutor", override: "SKIFF_TUTOR") ?? "skiff-tutor"
    }
}

struct TutorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tutor",
        abstract: "Learn containers step by step: lessons, checks, and the kernel objects of every step")
    @Argument(parsing: .allUnrecognized) var options: [String] = []
    func run() throws { TutorBinary.exec(["tutor"] + options) }
}

struct LessonsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lessons", abstract: "Work with the tutor's lesson files")
    @Argument(parsing: .allUnrecognized) var options: [String] = []
    func run() throws { TutorBinary.exec(["lessons"] + options) }
}
