import Foundation
import Testing

/// `run -it` in a real terminal: tmux gives the CLI a pty, we type into it.
@Suite("interactive terminal", .enabled(if: isRoot && FileManager.default.fileExists(atPath: "/usr/bin/tmux"), rootReason))
struct TerminalTests {
    /// Runs tmux with posix_spawn and waitpid; only capture-pane's output is
    /// read (a new server would inherit a pipe and keep it open as long as it
    /// lives, so every other call writes to /dev/null).
    func tmux(_ args: String...) -> String {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return "" }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let capture = args.first == "capture-pane"
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if capture {
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        let argv = (["tmux"] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // The test runner's threads may block signals: tmux and all it starts
        // must not inherit that.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/usr/bin/tmux", &actions, &attributes, argv, environ)
        close(fds[1])
        var output = Data()
        if rc == 0 && capture {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fds[0], &buffer, buffer.count)
                if n <= 0 { break }
                output.append(contentsOf: buffer[0..<n])
            }
        }
        close(fds[0])
        if rc == 0 {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Polls the screen until `text` shows up (or 10 s pass).
    func waitFor(_ session: String, _ text: String) -> String {
        var screen = ""
        for _ in 0..<200 {
            screen = tmux("capture-pane", "-t", session, "-p")
            if screen.contains(text) { return screen }
            usleep(50_000)
        }
        Issue.record("timed out waiting for \(text.debugDescription); screen:\n\(screen)")
        return screen
    }

    @Test func ttyWindowSizeAndCtrlCReachTheContainer() throws {
        let box = Sandbox()
        try box.run(["pull", "busybox"])
        let session = "skiff-tty-\(UUID().uuidString.prefix(8))"
        let name = "tty-\(UUID().uuidString.prefix(6))"
        _ = tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "30",
                 "SKIFF_ROOT=\(box.root) \(Sandbox.skiff) run -it --name \(name) busybox sh; echo skiff-exit=$?; sleep 30")
        defer { _ = tmux("kill-session", "-t", session) }
        _ = waitFor(session, "/ #")
        _ = tmux("send-keys", "-t", session, "stty size; echo term=$TERM; echo tty=$(tty)", "Enter")
        var screen = waitFor(session, "tty=/dev/")
        #expect(screen.contains("30 100"), "the container's terminal has our window size")
        #expect(screen.contains("term=xterm"))
        // A pty of the container's own devpts, as Docker gives: not /dev/console.
        #expect(screen.contains("tty=/dev/pts/0"), "\(screen)")
        // Ctrl-C goes to the container's foreground job, not to skiff.
        _ = tmux("send-keys", "-t", session, "sleep 100", "Enter")
        usleep(300_000)
        _ = tmux("send-keys", "-t", session, "C-c")
        _ = tmux("send-keys", "-t", session, "echo status=$?", "Enter")
        screen = waitFor(session, "status=130")
        _ = tmux("resize-window", "-t", session, "-x", "90", "-y", "25")
        usleep(500_000)
        _ = tmux("send-keys", "-t", session, "stty size", "Enter")
        screen = waitFor(session, "25 90")
        _ = tmux("send-keys", "-t", session, "exit 5", "Enter")
        screen = waitFor(session, "skiff-exit=5")
        #expect(try box.run(["ps", "-a"]).stdout.contains("Exited (5)"))
        #expect(try box.run(["rm", name]).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func execWithATerminal() throws {
        let box = Sandbox()
        let name = "ttyexec-\(UUID().uuidString.prefix(6))"
        #expect(try box.run(["run", "-d", "--name", name, "busybox", "sleep", "60"]).code == 0)
        let session = "skiff-exec-\(UUID().uuidString.prefix(8))"
        _ = tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                 "SKIFF_ROOT=\(box.root) \(Sandbox.skiff) exec -it \(name) sh; echo exec-exit=$?; sleep 30")
        defer { _ = tmux("kill-session", "-t", session) }
        _ = waitFor(session, "/ #")
        _ = tmux("send-keys", "-t", session, "echo sleepers=$(ps -o comm | grep -c sleep)", "Enter")
        _ = waitFor(session, "sleepers=1")
        _ = tmux("send-keys", "-t", session, "exit 3", "Enter")
        _ = waitFor(session, "exec-exit=3")
        #expect(try box.run(["rm", "-f", name]).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }
}

extension TerminalTests {
    @Test func secondCtrlCKillsAForegroundContainerThatIgnoresIt() throws {
        let box = Sandbox()
        try box.run(["pull", "busybox"])
        let session = "skiff-int-\(UUID().uuidString.prefix(8))"
        _ = tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "20",
                 "SKIFF_ROOT=\(box.root) \(Sandbox.skiff) run --rm busybox sleep 100; echo skiff-exit=$?; sleep 30")
        defer { _ = tmux("kill-session", "-t", session) }
        usleep(1_000_000)
        _ = tmux("send-keys", "-t", session, "C-c")
        usleep(500_000)
        // sleep as PID 1 has no handler: the first Ctrl-C changes nothing.
        #expect(!tmux("capture-pane", "-t", session, "-p").contains("skiff-exit="))
        _ = tmux("send-keys", "-t", session, "C-c")
        let screen = waitFor(session, "skiff-exit=137")
        #expect(screen.contains("killed it with SIGKILL"))
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }
}
