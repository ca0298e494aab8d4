import CShim
import Glibc
import SkiffCommon

/// Launching skiff-spawn, the single-threaded helper that does all namespace
/// and mount work. posix_spawn (vfork + exec) is safe from our threads; the
/// helper then forks and clones in a process that has only one thread.
public enum Helper {
    /// SKIFF_SPAWN, else skiff-spawn beside our own executable.
    static func path() throws(SkiffError) -> String {
        if let found = sibling("skiff-spawn", override: "SKIFF_SPAWN") { return found }
        throw SkiffError(.notFound, "skiff-spawn is missing: it must sit beside the skiff binary (or set SKIFF_SPAWN)")
    }

    /// The environment variable `override` when set, else the executable
    /// `name` beside our own (skiff-spawn, skiff-probe).
    public static func sibling(_ name: String, override: String) -> String? {
        if let value = getenv(override), value.pointee != 0 { return String(cString: value) }
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n > 0 {
            let exe = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let slash = exe.lastIndex(of: "/") {
                let candidate = exe[..<slash] + "/" + name
                if access(String(candidate), X_OK) == 0 { return String(candidate) }
            }
        }
        return nil
    }

    struct Launched {
        var helperPid: Int32
        var status: Int32   // read end of the status pipe
        /// Launched with --report-exit: after "ok" the status pipe stays
        /// open for "exit CODE".
        var reportsExit = false
        /// Status text read past the line awaited so far.
        var unread = ""

        /// The next status line; nil at the end of the pipe.
        mutating func nextLine() -> String? {
            var buffer = [UInt8](repeating: 0, count: 1024)
            while true {
                if let newline = unread.firstIndex(of: "\n") {
                    let line = String(unread[..<newline])
                    unread = String(unread[unread.index(after: newline)...])
                    return line
                }
                let n = buffer.withUnsafeMutableBytes { read(status, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return nil }
                unread += String(decoding: buffer[0..<n], as: UTF8.self)
            }
        }
    }

    /// `extraFDs` become the helper's fds 4, 5, … (3 is the status pipe).
    static func launch(_ args: [String], io: AttachIO, newSession: Bool, root: StateRoot,
                       extraFDs: [Int32] = []) throws(SkiffError) -> Launched {
        let exe = try path()
        var fds: [Int32] = [0, 0]
        try syscall("create status pipe") { skiff_pipe_cloexec(&fds) }
        let withStatus = [args[0], "--status-fd", "3"] + args.dropFirst()
        let argv: [UnsafeMutablePointer<CChar>?] = ([exe] + withStatus).map { strdup($0) } + [nil]
        let env: [UnsafeMutablePointer<CChar>?] = environment(root).map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            env.forEach { free($0) }
        }
        var pid: pid_t = 0
        let keep = [fds[1]] + extraFDs
        let rc = skiff_spawn(exe, argv, env, io.stdin, io.stdout, io.stderr, keep, Int32(keep.count),
                             newSession ? 1 : 0, &pid)
        close(fds[1])
        if rc != 0 {
            close(fds[0])
            throw SkiffError.system("start \(exe)", errno: rc)
        }
        return Launched(helperPid: pid, status: fds[0])
    }

    /// A helper started before its command line is known (`skiff-spawn
    /// standby`), so that its start-up runs beside the engine's own work.
    struct Standby: Sendable {
        var pid: Int32
        var status: Int32   // read end of the status pipe
        var channel: Int32  // our end of the socket the command line goes down
        var initChannel: Int32 // our end of the socket to its early init (its fd 5)
        var io: AttachIO    // its stdio

        /// Sends the command line; from here on it is an ordinary launch.
        /// A command with --await-cgroups keeps the socket open: `go()` or
        /// `cancel()` ends it.
        func send(_ args: [String]) throws(SkiffError) -> Launched {
            let withStatus = [args[0], "--status-fd", "3"] + args.dropFirst()
            var body: [UInt8] = []
            for arg in withStatus { body += Array(arg.utf8) + [0] }
            // The early init first: it has the longer way to go. Without the
            // length: it reads to the end. If it is gone, only its early
            // start is lost (the helper clones another).
            _ = Helper.sendAll(initChannel, body[...])
            close(initChannel)
            // Length first (8 hex digits): the socket may carry a byte after it.
            let length = String(body.count, radix: 16)
            let header = Array((String(repeating: "0", count: max(0, 8 - length.count)) + length).utf8)
            if let code = Helper.sendAll(channel, header[...]) ?? Helper.sendAll(channel, body[...]) {
                close(channel)
                close(status)
                _ = Helper.wait(pid)
                throw SkiffError.system("hand the command to the spawn helper", errno: code)
            }
            if !args.contains("--await-cgroups") { close(channel) }
            Trace.mark("command sent")
            return Launched(helperPid: pid, status: status)
        }

        /// The cgroups exist: the helper may move the container into them.
        func go() {
            _ = withUnsafeBytes(of: UInt8(ascii: "G")) { Glibc.send(channel, $0.baseAddress, 1, Int32(MSG_NOSIGNAL)) }
            close(channel)
        }

        /// They could not be made: the helper stops the container and fails.
        func cancel() { close(channel) }

        /// Nothing to run after all: the helper sees the socket close and
        /// exits, and so does its early init.
        func abandon() {
            close(initChannel)
            close(channel)
            close(status)
            _ = Helper.wait(pid)
        }
    }

    /// Starts `skiff-spawn standby` with our stdio. `warm`: it makes the
    /// early no-op cgroup move first (see skiff-spawn's Standby.swift).
    /// `overlappingExec`: return before the helper's exec is done (the
    /// CLI's launch; single-threaded callers that exit soon, since its
    /// command line is never freed: see skiff_spawn_nowait).
    static func launchStandby(root: StateRoot, warm: Bool, io: AttachIO,
                              overlappingExec: Bool = false) throws(SkiffError) -> Standby {
        let exe = try path()
        var status: [Int32] = [0, 0]
        try syscall("create status pipe") { skiff_pipe_cloexec(&status) }
        var channel: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &channel) == 0 else {
            let error = SkiffError.system("create the spawn helper's socket")
            close(status[0]); close(status[1])
            throw error
        }
        var initChannel: [Int32] = [0, 0]
        guard skiff_socketpair_cloexec(&initChannel) == 0 else {
            let error = SkiffError.system("create the early init's socket")
            for fd in status + channel { close(fd) }
            throw error
        }
        let args = [exe, "standby"] + (warm ? ["--warm"] : [])
        var pid: pid_t = 0
        let keep = [status[1], channel[1], initChannel[0]]
        let rc: Int32
        if overlappingExec {
            // Read by the child after we return: allocated for good.
            rc = skiff_spawn_nowait(strdup(exe), permanentCStrings(args), permanentCStrings(environment(root)),
                                    io.stdin, io.stdout, io.stderr, keep, Int32(keep.count), 0, &pid)
        } else {
            let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
            let env: [UnsafeMutablePointer<CChar>?] = environment(root).map { strdup($0) } + [nil]
            defer {
                argv.forEach { free($0) }
                env.forEach { free($0) }
            }
            rc = skiff_spawn(exe, argv, env, io.stdin, io.stdout, io.stderr, keep, Int32(keep.count), 0, &pid)
        }
        for fd in keep { close(fd) }
        if rc != 0 {
            close(status[0])
            close(channel[0])
            close(initChannel[1])
            throw SkiffError.system("start \(exe)", errno: rc)
        }
        return Standby(pid: pid, status: status[0], channel: channel[0], initChannel: initChannel[1], io: io)
    }

    /// Writes all of `bytes` to a socket (no SIGPIPE if the other end is
    /// gone): nil, or the errno it failed with.
    static func sendAll(_ socket: Int32, _ bytes: ArraySlice<UInt8>) -> Int32? {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return n < 0 ? errno : EPIPE }
            offset += n
        }
        return nil
    }

    /// A NULL-terminated C string array that is never freed.
    static func permanentCStrings(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let array = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: strings.count + 1)
        for (i, s) in strings.enumerated() { array[i] = strdup(s) }
        array[strings.count] = nil
        return array
    }

    static func environment(_ root: StateRoot) -> [String] {
        ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SKIFF_ROOT=\(root.path)"] + (getenv("SKIFF_TRACE") != nil ? ["SKIFF_TRACE=1"] : [])
    }

    /// Reads status lines until "ok" or "err CODE MESSAGE". Returns the
    /// container's host pid. The pipe stays open only for a helper that
    /// reports the exit too.
    static func awaitStart(_ launched: inout Launched) throws(SkiffError) -> Int32 {
        var pid: Int32 = 0
        while let line = launched.nextLine() {
            if line.hasPrefix("pid ") {
                pid = Int32(line.split(separator: " ")[1]) ?? 0
            } else if line == "ok" {
                if !launched.reportsExit { close(launched.status) }
                return pid
            } else if line.hasPrefix("err ") {
                close(launched.status)
                let parts = line.split(separator: " ", maxSplits: 2)
                let code = parts.count > 1 ? Int32(parts[1]) ?? 125 : 125
                let message = parts.count > 2 ? String(parts[2]) : "the container failed to start"
                let kind: SkiffError.Kind = code == 127 ? .commandNotFound : code == 126 ? .cannotInvoke : .system
                throw SkiffError(kind, message)
            }
        }
        close(launched.status)
        throw SkiffError(.system, "the spawn helper exited without starting the container")
    }

    /// Launches the helper and waits until its command has exec'd. On any
    /// failure the terminal is closed, the helper reaped, `undo` run.
    /// A `standby` helper, when given, gets the command line instead of a
    /// new helper being launched.
    /// `whileCloning` runs once a standby helper has the command line (for
    /// work the helper waits for, see `Standby.go`).
    static func start(_ args: [String], io: AttachIO, terminal: TerminalSession?, newSession: Bool,
                      root: StateRoot, standby: Standby? = nil, extraFDs: [Int32] = [],
                      whileCloning: () throws(SkiffError) -> Void = {},
                      undo: () -> Void) throws(SkiffError) -> Launched {
        var launched: Launched
        do throws(SkiffError) {
            if let standby {
                launched = try standby.send(args)
                if args.contains("--await-cgroups") {
                    do {
                        try whileCloning()
                    } catch {
                        standby.cancel()
                        close(standby.status)
                        _ = wait(standby.pid)
                        throw error
                    }
                    standby.go()
                }
            } else {
                launched = try launch(args, io: io, newSession: newSession, root: root, extraFDs: extraFDs)
            }
        } catch {
            terminal?.close()
            undo()
            throw error
        }
        terminal?.closeSlave()
        do {
            launched.reportsExit = args.contains("--report-exit")
            _ = try awaitStart(&launched)
        } catch {
            terminal?.close()
            _ = wait(launched.helperPid)
            undo()
            throw error
        }
        return launched
    }

    /// Copies the terminal (if any) until the command ends; its exit code.
    /// With `proxySignals` (the CLI), signals sent to us go on to the helper.
    /// Without `reapHelper` (a CLI about to exit) we return as soon as the
    /// helper reports the exit, while it still finishes in the background.
    static func attach(_ launched: Launched, terminal: TerminalSession?, proxySignals: Bool = false,
                       reapHelper: Bool = true) -> Int32 {
        if proxySignals { SignalProxy.install(target: launched.helperPid) }
        terminal?.proxy(until: launched.helperPid)
        var launched = launched
        if launched.reportsExit {
            var reported: Int32? = nil
            while let line = launched.nextLine() {
                if line.hasPrefix("exit "), let code = Int32(line.dropFirst(5)) { reported = code; break }
            }
            close(launched.status)
            if let reported {
                Trace.mark("exit reported")
                if reapHelper { _ = wait(launched.helperPid) }
                return reported
            }
        }
        let code = wait(launched.helperPid)
        Trace.mark("helper exited")
        terminal?.close()
        return code
    }

    /// waitpid for the helper; its exit code is the container's.
    static func wait(_ pid: Int32) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return 125 }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

/// Docker's --sig-proxy for a foreground `run`: a signal another process
/// sends the CLI (kill, a supervisor, a test) goes on to the helper, which
/// passes it to the container. A terminal's Ctrl-C or Ctrl-\ is not sent
/// on: the kernel already delivers it to the whole foreground process group,
/// the helper and the container included, and a second copy would count as
/// a second Ctrl-C (which kills the container).
enum SignalProxy {
    nonisolated(unsafe) static var target: pid_t = 0
    static let forwarded = [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2]

    static func install(target pid: pid_t) {
        target = pid
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = { signal, info, _ in
            if let info, info.pointee.si_code == SI_KERNEL { return }
            kill(SignalProxy.target, signal)
        }
        action.sa_flags = SA_SIGINFO | SA_RESTART
        sigemptyset(&action.sa_mask)
        // Whoever started us may have blocked them (Foundation's Process does).
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signal in forwarded {
            sigaction(signal, &action, nil)
            sigaddset(&unblock, signal)
        }
        sigprocmask(SIG_UNBLOCK, &unblock, nil)
    }
}
