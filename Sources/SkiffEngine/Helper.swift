import CShim
import Glibc
import SkiffCommon

/// Launching skiff-spawn, the single-threaded helper that does all namespace
/// and mount work. posix_spawn (vfork + exec) is safe from our threads; the
/// helper then forks and clones in a process that has only one thread.
enum Helper {
    /// SKIFF_SPAWN, else skiff-spawn beside our own executable.
    static func path() throws(SkiffError) -> String {
        if let found = sibling("skiff-spawn", override: "SKIFF_SPAWN") { return found }
        throw SkiffError(.notFound, "skiff-spawn is missing: it must sit beside the skiff binary (or set SKIFF_SPAWN)")
    }

    /// The environment variable `override` when set, else the executable
    /// `name` beside our own (skiff-spawn, skiff-probe).
    static func sibling(_ name: String, override: String) -> String? {
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
    }

    static func launch(_ args: [String], io: AttachIO, newSession: Bool, root: StateRoot) throws(SkiffError) -> Launched {
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
        let rc = skiff_spawn(exe, argv, env, io.stdin, io.stdout, io.stderr, fds[1], newSession ? 1 : 0, &pid)
        close(fds[1])
        if rc != 0 {
            close(fds[0])
            throw SkiffError.system("start \(exe)", errno: rc)
        }
        return Launched(helperPid: pid, status: fds[0])
    }

    static func environment(_ root: StateRoot) -> [String] {
        ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SKIFF_ROOT=\(root.path)"]
    }

    /// Replaces this process with the helper (a foreground `run` from the
    /// CLI: nothing is left for us to do that the monitor cannot do).
    /// Returns only by throwing.
    static func handOver(_ args: [String], root: StateRoot) throws(SkiffError) -> Never {
        let exe = try path()
        let argv: [UnsafeMutablePointer<CChar>?] = ([exe] + args).map { strdup($0) } + [nil]
        let env: [UnsafeMutablePointer<CChar>?] = environment(root).map { strdup($0) } + [nil]
        execve(exe, argv, env)
        throw SkiffError.system("start \(exe)")
    }

    /// Reads status lines until "ok" or "err CODE MESSAGE". Returns the
    /// container's host pid.
    static func awaitStart(_ launched: Launched) throws(SkiffError) -> Int32 {
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 1024)
        var pid: Int32 = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(launched.status, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            text += String(decoding: buffer[0..<n], as: UTF8.self)
            while let newline = text.firstIndex(of: "\n") {
                let line = String(text[..<newline])
                text = String(text[text.index(after: newline)...])
                if line.hasPrefix("pid ") {
                    pid = Int32(line.split(separator: " ")[1]) ?? 0
                } else if line == "ok" {
                    close(launched.status)
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
        }
        close(launched.status)
        throw SkiffError(.system, "the spawn helper exited without starting the container")
    }

    /// Launches the helper and waits until its command has exec'd. On any
    /// failure the terminal is closed, the helper reaped, `undo` run.
    static func start(_ args: [String], io: AttachIO, terminal: TerminalSession?, newSession: Bool,
                      root: StateRoot, undo: () -> Void) throws(SkiffError) -> Launched {
        let launched: Launched
        do {
            launched = try launch(args, io: io, newSession: newSession, root: root)
        } catch {
            terminal?.close()
            undo()
            throw error
        }
        terminal?.closeSlave()
        do {
            _ = try awaitStart(launched)
        } catch {
            terminal?.close()
            _ = wait(launched.helperPid)
            undo()
            throw error
        }
        return launched
    }

    /// Copies the terminal (if any) until the command ends; its exit code.
    static func attach(_ launched: Launched, terminal: TerminalSession?) -> Int32 {
        terminal?.proxy(until: launched.helperPid)
        let code = wait(launched.helperPid)
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
