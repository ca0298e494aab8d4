import ArgumentParser
import Glibc
import SkiffCommon
import SkiffEngine

struct Skiff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skiff",
        abstract: "A small, real container runtime for learning how containers work.",
        discussion: "Commands follow Docker's: `skiff run -it busybox sh` works, with or without a leading `docker`.",
        subcommands: [Run.self, Create.self, Start.self, Stop.self, Restart.self, Kill.self, Remove.self,
                      Exec.self, PS.self, Logs.self, Inspect.self, Explain.self, Diff.self, Images.self,
                      Pull.self, Wait.self, Doctor.self, Tutor.self, Lessons.self, Tag.self, Rmi.self,
                      History.self, Save.self, Load.self, Commit.self, ImageCommand.self, Show.self, LayerBench.self,
                      Build.self])
}

/// Every subcommand: parsed by ArgumentParser, run against the engine.
/// Returns the process's exit code; errors are thrown as SkiffError.
protocol SkiffCommand: ParsableCommand {
    func execute(_ engine: Engine) throws(SkiffError) -> Int32
    /// Docker exits 125 when `run` itself fails (126/127 for the command);
    /// other commands exit 1 on errors and 125 on bad flags.
    static var passesContainerCodes: Bool { get }
}

extension SkiffCommand {
    static var passesContainerCodes: Bool { false }
    func run() throws {}
}

enum CLI {
    static func main(_ arguments: [String]) -> Int32 {
        let engine = Engine(proxiesSignals: true)
        // `run` is the hot path: the spawn helper starts now and gets its
        // command line once the container exists (see Engine.run).
        if arguments.first == "run" { engine.prelaunchHelper() }
        let code = dispatch(arguments, engine)
        engine.discardPrelaunchedHelper()
        return code
    }

    /// One command line run in this process against `engine`: the CLI's
    /// whole job, and what the tutor does with every command typed at it.
    static func dispatch(_ arguments: [String], _ engine: Engine) -> Int32 {
        Trace.mark("parse start")
        let command: ParsableCommand
        do {
            // `run` is the hot path: parsing it on its own skips building
            // the whole command tree (about a millisecond). Anything odd,
            // --help included, goes through the root for the right message.
            if arguments.first == "run", let run = try? Run.parse(Array(arguments.dropFirst())) {
                command = run
            } else {
                command = try Skiff.parseAsRoot(arguments)
            }
        } catch {
            if Skiff.exitCode(for: error) == .success {
                print(Skiff.fullMessage(for: error))
                return 0
            }
            printError(Skiff.message(for: error))
            let sub = arguments.first.map { " " + $0 } ?? ""
            printError("See 'skiff\(sub) --help'.", prefixed: false)
            return 125
        }
        Trace.mark("parsed")
        guard let skiffCommand = command as? any SkiffCommand else {
            print(Skiff.helpMessage(for: type(of: command)))
            return 0
        }
        // Our buffered output first: a foreground run may exec or hand the
        // terminal to a container.
        fflush(nil)
        defer { fflush(nil) }
        do {
            return try skiffCommand.execute(engine)
        } catch {
            printError(error.message)
            if type(of: skiffCommand).passesContainerCodes { return error.exitCode }
            return error.kind == .usage ? 125 : 1
        }
    }
}

func printError(_ message: String, prefixed: Bool = true) {
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
