import CShim
import Glibc
import SkiffCommon

/// Finds the command the way a shell would, but with the container's PATH
/// (execvpe would use ours). Errors carry Docker's exit codes.
func resolveCommand(_ name: String, env: [String]) throws(SetupFailure) -> String {
    if name.contains("/") { return name }
    let pathValue = env.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) }
        ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    var sawNotExecutable = false
    for dir in pathValue.split(separator: ":", omittingEmptySubsequences: false) {
        let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + name
        var st = stat()
        guard stat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
        if access(candidate, X_OK) == 0 { return candidate }
        sawNotExecutable = true
    }
    if sawNotExecutable {
        throw SetupFailure(code: 126, message: "exec: \"\(name)\": permission denied")
    }
    throw SetupFailure(code: 127, message: "exec: \"\(name)\": executable file not found in $PATH")
}

/// Replaces this process with the command; returns only by throwing.
/// With a seccomp filter, it is loaded after everything else (the lookup,
/// the allocations) so that only execve itself has to pass it.
func execCommand(_ command: [String], env: [String], seccompFilter: [UInt8]? = nil) throws(SetupFailure) -> Never {
    let path = try resolveCommand(command[0], env: env)
    skiff_reset_signals()
    let argv = command.map { strdup($0) } + [nil]
    let envp = env.map { strdup($0) } + [nil]
    if let seccompFilter { try loadSeccomp(seccompFilter) }
    Trace.mark("exec")
    execve(path, argv, envp)
    let code = errno
    switch code {
    case ENOENT:
        throw SetupFailure(code: 127, message: "exec: \"\(command[0])\": stat \(path): no such file or directory")
    case EACCES, EPERM:
        throw SetupFailure(code: 126, message: "exec: \"\(command[0])\": permission denied")
    default:
        throw SetupFailure(code: 126, message: "exec \(path): \(errnoText(code))")
    }
}

/// In a child: report a setup failure to the parent over the sync pipe and exit.
func childFail(_ syncFD: Int32, _ failure: SetupFailure) -> Never {
    writeAll(syncFD, Array("\(failure.code) \(failure.message)".utf8))
    _exit(failure.code)
}

/// In the parent: the sync pipe closes on exec (O_CLOEXEC); anything read
/// from it first is the child's failure.
func awaitExec(_ syncFD: Int32) -> SetupFailure? {
    let bytes = readAll(syncFD)
    close(syncFD)
    guard !bytes.isEmpty else { return nil }
    let text = String(decoding: bytes, as: UTF8.self)
    guard let space = text.firstIndex(of: " "), let code = Int32(text[..<space]) else {
        return SetupFailure(code: 125, message: text)
    }
    return SetupFailure(code: code, message: String(text[text.index(after: space)...]))
}

func makePipe() -> (read: Int32, write: Int32) {
    var fds: [Int32] = [0, 0]
    if skiff_pipe_cloexec(&fds) != 0 { fail(125, "pipe: \(errnoText())") }
    return (fds[0], fds[1])
}

func waitStatus(_ pid: Int32) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        if errno != EINTR { return 125 }
    }
    // WIFEXITED / WTERMSIG by hand: the macros are not imported.
    let signal = status & 0x7f
    if signal == 0 { return (status >> 8) & 0xff }
    return 128 + signal
}

/// Forwarded to the container: the monitor itself must outlive a Ctrl-C.
nonisolated(unsafe) var forwardTarget: Int32 = 0
nonisolated(unsafe) var interrupts = 0
/// Made before any signal can arrive: the handler only reads it.
nonisolated(unsafe) var interruptNote: [UInt8] = []

func installForwarding(to pid: Int32) {
    forwardTarget = pid
    interruptNote = Array(("\r\nskiff: the container did not stop on Ctrl-C (as PID 1 it has no default "
        + "action for SIGINT unless it sets one), so the second Ctrl-C killed it with SIGKILL\r\n").utf8)
    // The terminal sends Ctrl-C to the whole foreground process group, the
    // container included. A second one means the user wants it gone.
    signal(SIGINT) { _ in
        interrupts += 1
        guard forwardTarget > 0, interrupts >= 2 else { return }
        _ = interruptNote.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        kill(forwardTarget, SIGKILL)
    }
    signal(SIGQUIT, SIG_IGN)
    signal(SIGPIPE, SIG_IGN)
    for sig in [SIGTERM, SIGHUP, SIGUSR1, SIGUSR2] {
        signal(sig) { sig in if forwardTarget > 0 { kill(forwardTarget, sig) } }
    }
    // A caller may have left signals blocked; ours must arrive.
    var none = sigset_t()
    sigemptyset(&none)
    sigprocmask(SIG_SETMASK, &none, nil)
}
