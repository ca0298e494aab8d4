import CShim
import Glibc
import SkiffCommon

/// A container init cloned by the standby before its command line arrives,
/// into the namespaces every plain `run` gets, so that the clone (about a
/// millisecond, most of it the new network namespace) runs while the engine
/// is still parsing and writing the state. While it waits it builds the
/// container's /proc, /sys and /dev (SpecialMounts.swift). The engine sends
/// it the command line itself, on its own socket (fd 5 of the standby), as
/// it sends it to us: it parses it as we do and goes on as `containerInit`.
/// A run that needs something else (a terminal, a user namespace, -d, whose
/// monitor is a grandchild) does not fit: it sees that itself and exits,
/// and the run clones its own. It says when it goes on (`ready`): an early
/// init that died meanwhile (killed, or out of memory) is not taken for
/// one that ran its command. Nothing of it outlives the run: if the engine
/// goes before sending, its socket closes and it exits; if we go, it may
/// still build its root, then finds its `joined` pipe closed and exits.
struct EarlyInit {
    var pid: Int32
    var sync: Int32        // read end: its setup failure, or EOF at its exec
    var joined: Int32      // write end: one byte once it is in its cgroups
    var ready: Int32       // read end: one byte once it has its command and goes on with it
    var out: Int32         // read ends of its stdout and stderr, for when we log them
    var err: Int32

    static let flags = SKIFF_CLONE_NEWPID | SKIFF_CLONE_NEWNS | SKIFF_CLONE_NEWUTS | SKIFF_CLONE_NEWIPC | SKIFF_CLONE_NEWNET

    /// Clones it, or nil when that fails (the run then clones its own and
    /// reports any error as usual).
    /// `go`: our end of the engine's socket for its command line.
    static func clone(go: Int32) -> EarlyInit? {
        let sync = makePipe(), joined = makePipe(), ready = makePipe(), out = makePipe(), err = makePipe()
        Trace.mark("early clone")
        let pid = skiff_clone_fork(flags)
        if pid == 0 {
            // Ours: stdio, and the pipes' child ends. Not the status pipe
            // or the engine's socket.
            close(statusFD)
            close(standbyChannel)
            for fd in [sync.read, joined.write, ready.read, out.read, err.read] { close(fd) }
            let staged = stageSpecialMounts()
            // Every container's loopback is up: that needs no command either.
            let loopbackUp = skiff_loopback_up() == 0
            Trace.mark("staged")
            let bytes = readAll(go)
            close(go)
            if bytes.isEmpty { _exit(0) }
            let o = parseOptions(["skiff-spawn"] + decodeArguments(bytes))
            // Fd 3 is no status pipe here (ours was closed above).
            statusOpen = false
            // Not ours to run: the standby clones another init.
            if !fits(o) { _exit(0) }
            writeAll(ready.write, [1])
            close(ready.write)
            let logging = !o.logFile.isEmpty
            if !logging { close(out.write); close(err.write) }
            let filter: [UInt8]?
            do throws(SetupFailure) { filter = try loadSeccompFilter(o) } catch { childFail(sync.write, error) }
            containerInit(o, syncFD: sync.write, joinedFD: joined.read, layerSocket: -1, consoleSocket: -1,
                          outPipe: logging ? out.write : nil, errPipe: logging ? err.write : nil, filter: filter,
                          staged: staged, loopbackUp: loopbackUp)
        }
        for fd in [sync.write, joined.read, ready.write, go, out.write, err.write] { close(fd) }
        if pid < 0 {
            for fd in [sync.read, joined.write, ready.read, out.read, err.read] { close(fd) }
            return nil
        }
        return EarlyInit(pid: pid, sync: sync.read, joined: joined.write, ready: ready.read, out: out.read, err: err.read)
    }

    /// Whether a run with these options can use it: the namespaces it was
    /// cloned into, and we, its parent, stay its monitor.
    static func fits(_ o: SpawnOptions) -> Bool {
        o.mode == .run && !o.detach && o.userns == nil && !o.tty && !o.makeTTY && !rootless
    }

    /// Waits for its word that it goes on with the command (it has parsed
    /// it as we did, so it does whenever the command fits). False when it
    /// died instead.
    mutating func goesOn() -> Bool {
        let word = readExactly(ready, 1)
        close(ready)
        ready = -1
        return word.count == 1
    }

    /// Not needed: it exits (its command does not fit, or the engine
    /// closed its socket), and we reap it. A dead one is reaped too.
    func discard() {
        for fd in [sync, joined, out, err] { close(fd) }
        if ready >= 0 { close(ready) }
        _ = waitStatus(pid)
    }
}

/// NUL-separated arguments, as the engine sends them to the standby.
func decodeArguments(_ bytes: [UInt8]) -> [String] {
    var parts = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    if parts.last == "" { parts.removeLast() }
    return parts
}
