import ArgumentParser
import Glibc
import SkiffCLI
import SkiffEngine

// skiff-tutor: `skiff tutor` and `skiff lessons`, exec'd by skiff. A binary
// of its own because lessons are YAML (Yams brings all of Foundation), which
// the rest of the CLI does without.

struct TutorRoot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skiff",
        abstract: "Skiff's tutor and its lesson tools",
        subcommands: [Tutor.self, Lessons.self])
}

let arguments = Array(CommandLine.arguments.dropFirst())
exit(CLI.dispatch(arguments.isEmpty ? ["tutor"] : arguments, Engine(), root: TutorRoot.self))
