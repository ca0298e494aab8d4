import ArgumentParser
import Glibc
import SkiffCommon
import SkiffEngine
import SkiffCLI
import SkiffTutor

/// `skiff tutor`: the REPL with lessons; `--auto` plays them (demo, CI).
struct Tutor: SkiffCommand {
    static let configuration = CommandConfiguration(
        commandName: "tutor",
        abstract: "Learn containers step by step: lessons, checks, and the kernel objects of every step",
        discussion: "With --auto, plays lessons by itself: each step's command is typed and its checks must pass.")

    @Option(name: .long, help: "Play a lesson (or all) by itself, as a demo or a test") var auto: String?
    @Option(name: .long, help: "Seconds to pause between steps with --auto") var pace: Double = 0
    @Option(name: .long, help: "Language of the lessons: en or zh") var lang: String?
    @Option(name: .long, help: "Directory of lesson files (default: lessons/ of this installation, or SKIFF_LESSONS)") var lessons: String?

    func execute(_ cliEngine: Engine) throws(SkiffError) -> Int32 {
        // The tutor outlives every container it starts: never hand over.
        let engine = Engine(root: cliEngine.root)
        var language: Language? = nil
        if let lang {
            guard let l = Language(rawValue: lang) else { throw SkiffError(.usage, "--lang must be en or zh") }
            language = l
        }
        let library = LessonLibrary.load(directory: lessons ?? LessonsDirectory.find())
        let screen = Screen.detect()
        if let auto {
            // The autopilot keeps its progress in memory: a learner's is not touched.
            var progress = Progress.fresh()
            if let seed = getenv("SKIFF_TUTOR_SEED").flatMap({ UInt64(String(cString: $0)) }) { progress.seed = seed }
            progress.lang = language ?? .en
            let session = TutorSession(engine: engine, library: library, store: nil, progress: progress,
                                       screen: screen, runner: CLI.dispatch)
            return Autopilot(pace: pace).play(auto, session: session)
        }
        let store = ProgressStore.forInvokingUser()
        var progress = store.load()
        if let language { progress.lang = language }
        let session = TutorSession(engine: engine, library: library, store: store, progress: progress,
                                   screen: screen, runner: CLI.dispatch)
        return REPL(session: session).run()
    }
}

/// `skiff lessons lint [FILE…]`: checks lesson files; `file:line: message`.
struct Lessons: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lessons", abstract: "Work with the tutor's lesson files",
        subcommands: [Lint.self], defaultSubcommand: Lint.self)

    struct Lint: SkiffCommand {
        static let configuration = CommandConfiguration(commandName: "lint", abstract: "Validate lesson files (all of lessons/ when none are given)")
        @Argument(help: "Lesson files") var files: [String] = []

        func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
            let list = files.isEmpty ? LessonLoader.files(in: LessonsDirectory.find()) : files
            let library = LessonLibrary.lint(files: list)
            for issue in library.issues { printError(issue.description, prefixed: false) }
            print("\(list.count) lesson file(s), \(library.lessons.count) good, \(library.issues.count) problem(s)")
            return library.issues.isEmpty && !list.isEmpty ? 0 : 1
        }
    }
}

enum LessonsDirectory {
    /// SKIFF_LESSONS; else a `lessons/` beside or above the executable (the
    /// repository when run from .build); else /usr/share/skiff/lessons; else ./lessons.
    static func find() -> String {
        if let value = getenv("SKIFF_LESSONS"), value.pointee != 0 { return String(cString: value) }
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n > 0 {
            var dir = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            while let slash = dir.lastIndex(of: "/"), slash != dir.startIndex {
                dir = String(dir[..<slash])
                if Files.isDirectory(dir + "/lessons") { return dir + "/lessons" }
                if Files.isDirectory(dir + "/share/skiff/lessons") { return dir + "/share/skiff/lessons" }
            }
        }
        if Files.isDirectory("/usr/share/skiff/lessons") { return "/usr/share/skiff/lessons" }
        return "lessons"
    }
}

