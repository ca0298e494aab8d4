import CReadline
import Glibc
import SkiffCommon
import SkiffEngine

/// The learner's prompt on GNU readline: history kept across sessions,
/// tab completion, Ctrl-C back to the prompt, Ctrl-D to leave.
public final class REPL {
    let session: TutorSession

    public init(session: TutorSession) {
        self.session = session
    }

    public func run() -> Int32 {
        Autopilot.ensureStandardDescriptors()
        REPLState.session = session
        skiff_rl_setup("skiff", { text, start, _ in
            REPLState.start = Int(start)
            skiff_rl_completion_over()
            return rl_completion_matches(text) { text, state in REPLState.generate(text, state) }
        })
        let history = session.store?.historyPath
        if let history {
            try? session.store?.ensureDirectory()
            using_history()
            _ = read_history(history)
            skiff_rl_set_history_size(1000)
        }
        session.confirm = { question in
            guard let answer = REPL.readLine(question) else { return false }
            return ["y", "yes", "是", "好"].contains(answer.lowercased().trimmingCharacters(in: " "))
        }
        session.welcome()
        defer {
            if let history {
                _ = write_history(history)
                session.store?.chown(history)
            }
        }
        while true {
            let prompt = session.screen.prompt("skiff> ")
            guard let line = REPL.readLine(prompt) else {
                session.screen.say("")
                _ = session.handle("quit")
                return 0
            }
            if !line.trimmingCharacters(in: " ").isEmpty {
                add_history(line)
            }
            if session.handle(line) == .quit { return 0 }
        }
    }

    /// One line from readline: nil on Ctrl-D. SIGINT interrupts the read
    /// (no SA_RESTART) while at the prompt; during a command, it only sets
    /// the flag, so the REPL survives and the container gets the signal.
    static func readLine(_ prompt: String) -> String? {
        tutorInterrupted = 0
        installInterruptHandler(restart: false)
        defer { installInterruptHandler(restart: true) }
        // readline's callback interface: we wait for input ourselves, so a
        // SIGINT interrupts our poll and we can drop the line cleanly.
        REPLState.line = nil
        REPLState.gotLine = false
        rl_callback_handler_install(prompt) { raw in
            // Removed here, not after: else readline prints the next prompt.
            rl_callback_handler_remove()
            REPLState.gotLine = true
            if let raw {
                REPLState.line = String(cString: raw)
                free(raw)
            } else {
                REPLState.line = nil
            }
        }
        defer { if !REPLState.gotLine { rl_callback_handler_remove() } }
        // Whatever blocked SIGINT (readline, a parent), the prompt wants it.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        while !REPLState.gotLine {
            var fds = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            let ready = poll(&fds, 1, -1)
            if tutorInterrupted != 0 {
                // Ctrl-C: forget what was typed, show a fresh prompt.
                skiff_rl_cancel_line()
                tutorInterrupted = 0
                try? Files.writeAll(1, Array("^C\n".utf8), what: "terminal")
                skiff_rl_fresh_prompt()
                continue
            }
            if ready < 0 { if errno == EINTR { continue } else { return nil } }
            if fds.revents & Int16(POLLNVAL | POLLERR) != 0 && fds.revents & Int16(POLLIN) == 0 { return nil }
            rl_callback_read_char()
        }
        return REPLState.line
    }

    static func installInterruptHandler(restart: Bool) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in tutorInterrupted = 1 }
        sigemptyset(&action.sa_mask)
        action.sa_flags = restart ? Int32(SA_RESTART) : 0
        sigaction(SIGINT, &action, nil)
    }
}

/// Readline calls plain C functions: the completion state lives here.
enum REPLState {
    nonisolated(unsafe) static var session: TutorSession?
    nonisolated(unsafe) static var start = 0
    nonisolated(unsafe) static var candidates: [String] = []
    nonisolated(unsafe) static var index = 0
    nonisolated(unsafe) static var line: String?
    nonisolated(unsafe) static var gotLine = false

    static func generate(_ text: UnsafePointer<CChar>?, _ state: Int32) -> UnsafeMutablePointer<CChar>? {
        if state == 0 {
            let word = text.map { String(cString: $0) } ?? ""
            let line = String(cString: skiff_rl_line())
            let before = String(decoding: Array(line.utf8).prefix(start), as: UTF8.self)
            candidates = session.map { Completion.candidates(before: before, word: word, session: $0) } ?? []
            index = 0
        }
        guard index < candidates.count else { return nil }
        defer { index += 1 }
        return strdup(candidates[index])
    }
}

/// What Tab offers: commands first, then flags, container and image names,
/// lesson ids, views and languages, depending on the words before.
public enum Completion {
    public static func candidates(before: String, word: String, session: TutorSession) -> [String] {
        var words = CommandForm.split(before) ?? before.split(separator: " ").map(String.init)
        if words.first == "skiff" { words.removeFirst() }
        if words.first == "docker" { words.removeFirst() }
        var options: [String]
        if words.isEmpty {
            options = TutorSession.tutorCommands + CommandForm.commands.keys.sorted() + (before.isEmpty ? ["docker"] : [])
        } else {
            let command = words[0]
            let containers = session.engine.list(all: true).map(\.name)
            let images = ((try? session.engine.images.list()) ?? []).flatMap { image in
                image.references.flatMap { r in r.hasSuffix(":latest") ? [r, String(r.dropLast(7))] : [r] }
            }
            let lessonIDs = session.library.lessons.map(\.id)
            switch command {
            case "start": options = lessonIDs + containers
            case "show": options = words.count == 1 ? ["ns", "cgroups", "layers", "all"] + containers : containers
            case "lang": options = ["en", "zh"]
            case "help": options = TutorSession.tutorCommands + CommandForm.commands.keys.sorted()
            case "lessons": options = ["lint"]
            case "run", "create":
                if word.hasPrefix("-") { options = flags(command) }
                else if CommandForm(words: words)?.positionals.isEmpty ?? true { options = images }
                else { options = [] }
            case "images", "pull": options = word.hasPrefix("-") ? flags(command) : images
            default:
                options = word.hasPrefix("-") ? flags(command) : containers
            }
        }
        return Array(Set(options.filter { $0.hasPrefix(word) })).sorted()
    }

    static func flags(_ command: String) -> [String] {
        (CommandForm.commands[command] ?? []).flatMap(\.names)
    }
}
