import Glibc
import SkiffCommon
import SkiffEngine

/// `skiff tutor --auto LESSON|all`: plays lessons as a learner would, typing
/// each step's command (or an exercise's solution, or a quiz's answer) into
/// the same session the REPL uses, and fails on the first step whose checks
/// do not pass. For a teacher's demo (`--pace`) and for CI.
public struct Autopilot {
    public var pace: Double
    public init(pace: Double) { self.pace = pace }

    /// Exit code: 0 when every lesson passed end to end.
    public func play(_ target: String, session: TutorSession) -> Int32 {
        Self.ensureStandardDescriptors()
        let lessons: [Lesson]
        if target == "all" {
            lessons = session.library.lessons
        } else if let one = session.library.lesson(target) {
            lessons = [one]
        } else if let one = session.library.lessons.first(where: { $0.file.split(separator: "/").last?.hasPrefix(target + "-") == true }) {
            // By the number its file starts with: `--auto 05` plays 05-dockerfile.yaml.
            lessons = [one]
        } else {
            session.screen.say(session.screen.red("no lesson '\(target)'; known: \(session.library.lessons.map(\.id).joined(separator: ", "))"))
            return 2
        }
        for issue in session.library.issues { session.screen.say(session.screen.yellow("skipped: \(issue)")) }
        if lessons.isEmpty {
            session.screen.say(session.screen.red("no lessons to play"))
            return 2
        }
        // Lessons' files go to a directory of our own, removed at the end.
        var scratch: String? = nil
        if session.filesRoot == nil {
            var template = Array("/tmp/skiff-tutor-files-XXXXXX".utf8CString)
            if mkdtemp(&template) != nil { scratch = String(cString: template) }
            session.filesRoot = scratch
        }
        defer {
            if let scratch {
                try? Files.removeTree(scratch)
                session.filesRoot = nil
            }
        }
        var failed: [String] = []
        for lesson in lessons {
            if !play(lesson, session: session) { failed.append(lesson.id) }
        }
        session.screen.say("")
        if failed.isEmpty {
            session.screen.say(session.screen.green("autopilot: \(lessons.count) lesson(s) passed"))
            return session.library.issues.isEmpty ? 0 : 1
        }
        session.screen.say(session.screen.red("autopilot: failed: \(failed.joined(separator: ", "))"))
        return 1
    }

    func play(_ lesson: Lesson, session: TutorSession) -> Bool {
        session.progress[lesson: lesson.id] = Progress.LessonState()
        session.startLesson(lesson.id)
        defer {
            // Whatever happened, leave nothing behind.
            session.progress.current = lesson.id
            session.removeContainers(of: lesson)
        }
        var guardSteps = 0
        while let step = session.currentStep, session.currentLesson?.id == lesson.id {
            guardSteps += 1
            if guardSteps > lesson.steps.count + 1 { return false }
            let index = session.progress[lesson: lesson.id].step
            pause()
            if step.isQuiz {
                for q in step.quiz {
                    type(session.fill(q.autopilotReply), session)
                    _ = session.handle(session.fill(q.autopilotReply))
                }
            } else if step.isReading {
                type("next", session)
                _ = session.handle("next")
            } else {
                for command in step.autopilotCommands {
                    let line = session.fill(command)
                    type(line, session)
                    session.pendingInput = step.input.map(session.fill) ?? ""
                    _ = session.handle(line)
                    if session.progress[lesson: lesson.id].step != index || session.currentLesson?.id != lesson.id { break }
                }
                if session.progress[lesson: lesson.id].step == index && !session.progress[lesson: lesson.id].done && !step.checks.isEmpty {
                    type("check", session)
                    _ = session.check(verbose: true)
                }
            }
            let state = session.progress[lesson: lesson.id]
            if !state.done && state.step == index {
                session.screen.say(session.screen.red("autopilot: step '\(step.id)' of \(lesson.id) (\(lesson.file):\(step.line)) did not pass"))
                return false
            }
        }
        return session.progress[lesson: lesson.id].done
    }

    func pause() {
        if pace > 0 { usleep(UInt32(min(pace, 60) * 1_000_000)) }
    }

    /// Shows the line at a prompt, as if typed.
    func type(_ line: String, _ session: TutorSession) {
        let prompt = session.screen.bold(session.screen.cyan("skiff> "))
        if pace > 0 {
            print(prompt, terminator: "")
            fflush(nil)
            for c in line {
                print(c, terminator: "")
                fflush(nil)
                usleep(useconds_t(min(0.04, pace / 40) * 1_000_000))
            }
            session.screen.say("")
        } else {
            session.screen.say(prompt + line)
        }
    }

    /// CI may start us with 0, 1 or 2 closed: a pipe must never land there.
    static func ensureStandardDescriptors() {
        // A closed reader must not kill the tutor (children get SIGPIPE back: the engine resets signals).
        signal(SIGPIPE, SIG_IGN)
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) < 0 {
            let null = open("/dev/null", O_RDWR)
            if null >= 0 && null != fd { dup2(null, fd); close(null) }
        }
    }
}
