import Foundation
import Testing
@testable import SkiffTutor

/// Drives the real `skiff tutor` in a pseudo-terminal (tmux) like a learner:
/// reads what the screen shows after each key press.
final class TmuxLearner {
    let socket = "skiff-learner-\(UUID().uuidString.prefix(8))"
    let box: TutorSandbox

    init(_ box: TutorSandbox) throws {
        self.box = box
        var args = ["new-session", "-d", "-s", "learner", "-x", "120", "-y", "40"]
        for key in ["SKIFF_ROOT", "HOME", "XDG_DATA_HOME", "SKIFF_LESSONS", "PATH"] {
            args += ["-e", "\(key)=\(box.environment[key] ?? "")"]
        }
        args += ["/bin/sh"]
        try tmux(args)
    }

    /// tmux through posix_spawn and waitpid: a tmux server started by
    /// new-session outlives its client and must not be waited for.
    @discardableResult
    func tmux(_ args: [String]) throws -> String {
        let outPath = "/tmp/\(socket)-\(UUID().uuidString.prefix(6)).out"
        defer { unlink(outPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = (["/usr/bin/tmux", "-L", socket, "-f", "/dev/null"] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // The test runner's threads block signals; tmux (its server above
        // all) must start with none blocked, or kill-server cannot end it.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/usr/bin/tmux", &actions, &attr, argv, environ)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    }

    func type(_ text: String) throws { try tmux(["send-keys", "-t", "learner", "-l", text]) }
    func press(_ key: String) throws { try tmux(["send-keys", "-t", "learner", key]) }
    func line(_ text: String) throws { try type(text); try press("Enter") }

    /// The whole screen and its scrollback, wrapped lines joined.
    func screen() throws -> String { try tmux(["capture-pane", "-p", "-J", "-S", "-5000", "-t", "learner"]) }

    /// Waits until `text` appears `count` times on the screen.
    @discardableResult
    func waitFor(_ text: String, count: Int = 1, timeout: Double = 30,
                 sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var shown = ""
        while Date() < deadline {
            shown = try screen()
            if shown.components(separatedBy: text).count - 1 >= count { return shown }
            usleep(100_000)
        }
        Issue.record("the screen never showed \"\(text)\" (×\(count)); it shows:\n\(shown.suffix(2500))", sourceLocation: sourceLocation)
        return shown
    }

    func close() {
        _ = try? tmux(["kill-server"])
        unlink("/tmp/tmux-\(getuid())/\(socket)")
    }

    deinit { close() }
}

@Suite("Tutor: a scripted learner drives the REPL in a terminal",
       .enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux"), "needs root and tmux"))
struct TutorREPLTests {
    @Test func learnerTypesErrsAsksInterruptsQuitsAndResumes() throws {
        let box = TutorSandbox()
        let learner = try TmuxLearner(box)
        defer { learner.close() }
        try learner.line("clear; \(skiffBinary) tutor")
        try learner.waitFor("Welcome to Skiff's tutor.")
        try learner.waitFor("at step 1 of 11")

        try learner.line("next")
        try learner.waitFor("Type: run -it --rm busybox sh")

        // A different command: it runs, and the tutor says how it differs.
        try learner.line("run --rm busybox echo hello-from-busybox")
        var s = try learner.waitFor("That differs from what this step asks for")
        #expect(s.contains("hello-from-busybox"))
        #expect(s.contains("you left out -i") && s.contains("you left out -t"))

        try learner.line("hint")
        try learner.waitFor("Hint 1/1:")
        try learner.line("hint")
        try learner.waitFor("No more hints for this step")

        // The asked command, with `docker` in front: the terminal goes to the container.
        try learner.line("docker run -it --rm busybox sh")
        try learner.waitFor("/ # ")
        try learner.line("sleep 30")
        usleep(500_000)
        try learner.press("C-c")                      // stops the sleep inside, not the tutor
        try learner.waitFor("/ # ", count: 2, timeout: 10)
        try learner.line("exit")
        try learner.waitFor("✓ Step done.")
        try learner.waitFor("step 3/11")

        // Ctrl-C at the prompt drops the half-typed line and keeps the REPL.
        try learner.type("half a line")
        try learner.waitFor("skiff> half a line")     // readline has it before the Ctrl-C
        try learner.press("C-c")
        try learner.waitFor("half a line^C")

        // Tab completes the image name; the kernel view follows the command.
        try learner.type("run -d --name first busy")
        try learner.press("Tab")
        try learner.waitFor("run -d --name first busybox")
        try learner.line(" sleep 3600")
        s = try learner.waitFor("What the kernel now holds for first:")
        try learner.waitFor("step 4/11")
        s = try learner.screen()
        // The short view: one line for the namespaces, the cgroups, the overlay.
        #expect(s.contains("namespaces  own: pid:[") && s.contains("shared with the host"))
        #expect(s.contains("overlay     lower (read-only): sha256:") && s.contains("upper:"))
        #expect(s.contains("memory.limit_in_bytes") || s.contains("memory.max"))

        // Ctrl-C ends a running `logs -f` and returns to the prompt.
        try learner.line("logs -f first")
        usleep(800_000)
        try learner.press("C-c")
        try learner.waitFor("(stopped following the log)")
        try learner.line("progress")
        try learner.waitFor("0 of \(LessonLibrary.load(directory: repoLessons).lessons.count) lessons done.")

        try learner.line("quit")
        try learner.waitFor("Your progress is saved")
        let progress = box.home + "/.local/share/skiff/progress.json"
        #expect(FileManager.default.fileExists(atPath: progress))
        #expect(FileManager.default.fileExists(atPath: box.home + "/.local/share/skiff/history"))

        // Back again: the tutor resumes at the same step; history is there.
        try learner.line("clear; \(skiffBinary) tutor")
        try learner.waitFor("at step 4 of 11")
        try learner.press("Up")
        try learner.waitFor("skiff> quit")
        try learner.press("C-u")
        try learner.press("C-d")                       // Ctrl-D leaves
        try learner.waitFor("Your progress is saved")   // `clear` wiped the first one

        let data = try #require(FileManager.default.contents(atPath: progress))
        let saved = try JSONDecoder().decode(Progress.self, from: data)
        #expect(saved.current == "container" && saved[lesson: "container"].step == 3)
        #expect(saved[lesson: "container"].containers.count >= 1, "the lesson's containers are tracked for reset")
        for id in box.containerIDs { try box.engine.remove(id, force: true) }
        #expect(box.leaks().isEmpty)
    }
}
