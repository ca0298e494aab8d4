import Foundation
import Testing
import SkiffCommon
import SkiffEngine
@testable import SkiffTutor

/// The session without containers: reading steps, quizzes, hints, progress,
/// navigation and completion, with a progress store in a temp dir.
@Suite("Tutor: session and completion")
struct TutorSessionTests {
    func session(_ dir: String) -> TutorSession {
        let library = LessonLibrary.load(directory: repoLessons)
        let store = ProgressStore(directory: dir + "/data")
        return TutorSession(engine: Engine(root: StateRoot(path: dir + "/state")), library: library, store: store,
                            progress: store.load(), screen: Screen(color: false), runner: { _, _ in 0 })
    }

    @Test func readingQuizHintsAndResume() throws {
        let dir = "/tmp/skiff-session-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = session(dir)
        #expect(s.currentLesson?.id == "container")
        #expect(s.currentStep?.id == "intro")
        _ = s.handle("next")                                   // a reading step: next moves on
        #expect(s.currentStep?.id == "first-shell")
        _ = s.handle("next")                                   // not done: next refuses
        #expect(s.currentStep?.id == "first-shell")
        _ = s.handle("hint")
        #expect(s.progress[lesson: "container"].hintsShown == 1)

        // Jump to the quiz: wrong answer, then right ones.
        let quizIndex = try #require(s.currentLesson?.steps.firstIndex { $0.isQuiz })
        s.progress[lesson: "container"].step = quizIndex
        _ = s.handle("3")
        #expect(s.currentStep?.isQuiz == true && s.quizIndex == 0)
        _ = s.handle("2")
        _ = s.handle(" 1 ")
        #expect(s.quizIndex == 2)
        _ = s.handle("2")
        #expect(s.currentStep?.goal == true, "the quiz is done; the exercise follows")
        _ = s.handle("back")
        #expect(s.currentStep?.isQuiz == true)

        // Saved after every step: a new session resumes there.
        let again = session(dir)
        #expect(again.currentStep?.isQuiz == true)
        #expect(again.progress.seed == s.progress.seed, "the learner keeps their seed")
        _ = again.handle("lang zh")
        #expect(session(dir).progress.lang == .zh)
        #expect(again.handle("quit") == .quit)
    }

    @Test func lessonFilesAreWrittenBesideTheProgressAndRestoredByReset() throws {
        let dir = "/tmp/skiff-session-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = session(dir)
        _ = s.handle("start dockerfile")
        let files = dir + "/data/files/dockerfile"
        #expect(s.values(s.currentLesson)["files"] == files)
        let page = files + "/site/index.html"
        #expect(try String(contentsOfFile: page, encoding: .utf8).contains("Hello from a container"))
        #expect(FileManager.default.fileExists(atPath: files + "/site/Dockerfile"))
        _ = s.handle("write site/index.html '<h1>mine</h1>\\n<p>two</p>'")
        #expect(try String(contentsOfFile: page, encoding: .utf8) == "<h1>mine</h1>\n<p>two</p>\n")
        _ = s.handle("write ../../escape.txt x")
        _ = s.handle("write /tmp/escape.txt x")
        #expect(!FileManager.default.fileExists(atPath: dir + "/data/escape.txt"))
        // Coming back keeps the learner's edit; reset (confirmed) restores the starter.
        _ = session(dir).handle("start dockerfile")
        #expect(try String(contentsOfFile: page, encoding: .utf8).hasPrefix("<h1>mine</h1>"))
        s.confirm = { _ in true }
        _ = s.handle("reset")
        #expect(try String(contentsOfFile: page, encoding: .utf8).contains("Hello from a container"))
    }

    @Test func startNeedsAndUnknownInput() {
        let dir = "/tmp/skiff-session-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = session(dir)
        _ = s.handle("start lifecycle")
        #expect(s.currentLesson?.id == "lifecycle")
        _ = s.handle("frobnicate now")
        _ = s.handle("run 'unbalanced")
        _ = s.handle("docker start container")
        #expect(s.currentLesson?.id == "container", "`docker start ID` of a lesson opens it")
    }

    @Test func tabCompletion() {
        let dir = "/tmp/skiff-session-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = session(dir)
        #expect(Completion.candidates(before: "", word: "ru", session: s) == ["run"])
        #expect(Completion.candidates(before: "", word: "l", session: s) == ["lang", "lessons", "load", "logs"])
        #expect(Completion.candidates(before: "", word: "wr", session: s) == ["write"])
        #expect(Completion.candidates(before: "", word: "bu", session: s) == ["build"])
        #expect(Completion.candidates(before: "docker run -d ", word: "--na", session: s) == ["--name"])
        #expect(Completion.candidates(before: "start ", word: "", session: s).contains("image-vs-container"))
        #expect(Completion.candidates(before: "lang ", word: "", session: s) == ["en", "zh"])
        #expect(Completion.candidates(before: "show ", word: "", session: s) == ["all", "cgroups", "layers", "ns"])
        #expect(Completion.candidates(before: "ps ", word: "-", session: s) == ["--all", "--quiet", "-a", "-q"])
    }
}

@Suite("Tutor: reset and progress ownership")
struct TutorResetAndOwnerTests {
    func session(_ dir: String) -> TutorSession { TutorSessionTests().session(dir) }

    @Test func resetAsksBeforeClearingProgress() {
        let dir = "/tmp/skiff-reset-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = session(dir)
        _ = s.handle("next")
        _ = s.handle("hint")
        let before = s.progress[lesson: "container"]
        #expect(before.step == 1 && before.hintsShown == 1)
        var asked: [String] = []
        s.confirm = { question in asked.append(question); return false }
        _ = s.handle("reset")
        #expect(asked.count == 1 && asked[0].contains("[y/N]"))
        #expect(s.progress[lesson: "container"] == before, "answering no keeps the progress")
        s.confirm = { _ in true }
        _ = s.handle("reset")
        #expect(s.progress[lesson: "container"] == Progress.LessonState())
        #expect(session(dir).progress[lesson: "container"].step == 0, "and the cleared progress is saved")
    }

    @Test(.enabled(if: getuid() == 0, "needs root to give files to another user"))
    func underSudoTheFilesBelongToTheRealUser() throws {
        let dir = "/tmp/skiff-owner-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = ProgressStore(directory: dir + "/home/.local/share/skiff", owner: (65534, 65534))
        try FileManager.default.createDirectory(atPath: dir + "/home", withIntermediateDirectories: true)
        try store.save(Progress.fresh())
        for path in [store.progressPath, dir + "/home/.local", dir + "/home/.local/share/skiff"] {
            var st = stat()
            #expect(stat(path, &st) == 0)
            #expect(st.st_uid == 65534 && st.st_gid == 65534, "\(path) belongs to uid \(st.st_uid)")
        }
    }
}
