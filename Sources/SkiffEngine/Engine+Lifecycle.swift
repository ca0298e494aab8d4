import CShim
import FoundationEssentials
import Glibc
import SkiffCommon
import SkiffKernel

extension Engine {
    /// SIGTERM (or the given signal), then SIGKILL after `timeout` seconds,
    /// as `docker stop -t` does. Returns once the monitor has recorded the exit.
    public func stop(_ reference: String, timeout: Int = 10) throws(SkiffError) {
        let c = try container(reference)
        guard c.isRunning else { return }
        try signal(c, SIGTERM)
        if !waitForExit(c, seconds: Double(max(timeout, 0))) {
            try signal(c, SIGKILL)
            _ = waitForExit(c, seconds: 10)
        }
    }

    public func restart(_ reference: String, timeout: Int = 10) throws(SkiffError) {
        try stop(reference, timeout: timeout)
        try start(container(reference), attach: nil)
    }

    /// `docker kill -s`: the signal goes to the container's PID 1.
    public func kill(_ reference: String, signal name: String = "KILL") throws(SkiffError) {
        let c = try container(reference)
        guard c.isRunning else {
            throw SkiffError(.conflict, "Cannot kill container: \(reference): container \(c.id) is not running")
        }
        try signal(c, try Signals.parse(name))
    }

    func signal(_ c: Container, _ sig: Int32) throws(SkiffError) {
        guard c.state.pid > 0 else { return }
        // A pidfd names exactly this process even if its number is reused.
        let fd = skiff_pidfd_open(c.state.pid)
        guard fd >= 0 else { return }
        defer { close(fd) }
        if ProcessInfoLite.startTime(of: c.state.pid) == nil { return }
        if skiff_pidfd_send_signal(fd, sig) != 0 && errno != ESRCH {
            throw SkiffError.system("send signal \(sig) to the container")
        }
    }

    /// Waits until the monitor has written the exit file (or is gone).
    func waitForExit(_ c: Container, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        let monitor = c.state.monitorPid > 0 ? skiff_pidfd_open(c.state.monitorPid) : -1
        defer { if monitor >= 0 { close(monitor) } }
        while true {
            let state = StateFiles.read(directory: c.directory)
            if state.status != .running { return true }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return false }
            if monitor >= 0 {
                var p = pollfd(fd: monitor, events: Int16(POLLIN), revents: 0)
                _ = poll(&p, 1, Int32(min(left, 0.05) * 1000))
            } else {
                usleep(20_000)
            }
        }
    }

    /// `docker wait`: blocks until the container exits; returns its code.
    public func wait(_ reference: String) throws(SkiffError) -> Int32 {
        let c = try container(reference)
        while !waitForExit(c, seconds: 3600) {}
        return try container(reference).state.exitCode
    }

    /// `docker rm [-f]`. Cleans up from any state, even a crash half-way
    /// through create or start, using what config.json recorded.
    public func remove(_ reference: String, force: Bool) throws(SkiffError) {
        let id = try containers.resolve(reference)
        let loaded = try? containers.load(id: id)
        if let c = loaded, c.isRunning {
            guard force else {
                throw SkiffError(.conflict, "You cannot remove a running container \(id). Stop the container before attempting removal or force remove")
            }
            try signal(c, SIGKILL)
            _ = waitForExit(c, seconds: 10)
        }
        try removeResources(id: id, config: loaded?.config)
        Files.sweepTrash(root.tmp)
    }

    /// `run --rm` in the foreground, once the container has exited.
    func removeStopped(_ c: Container) throws(SkiffError) {
        try removeResources(id: c.id, config: c.config)
    }

    func removeResources(id: String, config: ContainerConfig?) throws(SkiffError) {
        let dir = root.container(id)
        if let config {
            if !config.cgroupDirs.isEmpty, let driver = try? cgroupDriver() { try driver.remove(name: config.cgroupName) }
            for cgroup in config.cgroupDirs where Files.exists(cgroup) { rmdir(cgroup) }
            containers.release(name: config.name, id: id)
        }
        // The overlay lives in the container's own mount namespace, but a
        // user's mount could sit below the container's directory.
        for mount in Mounts.under(dir) { umount2(mount, Int32(MNT_DETACH)) }
        try Files.removeTree(dir)
    }
}

enum Mounts {
    /// Mount points at or below `path` in our mount namespace, deepest first.
    static func under(_ path: String) -> [String] {
        guard let text = try? Files.readString("/proc/self/mountinfo") else { return [] }
        return MountInfo.parse(text).map(\.mountPoint)
            .filter { $0 == path || $0.hasPrefix(path + "/") }
            .sorted { $0.count > $1.count }
    }
}

public enum Signals {
    static let names: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP, "ABRT": SIGABRT,
        "BUS": SIGBUS, "FPE": SIGFPE, "KILL": SIGKILL, "USR1": SIGUSR1, "SEGV": SIGSEGV, "USR2": SIGUSR2,
        "PIPE": SIGPIPE, "ALRM": SIGALRM, "TERM": SIGTERM, "CHLD": SIGCHLD, "CONT": SIGCONT,
        "STOP": SIGSTOP, "TSTP": SIGTSTP, "TTIN": SIGTTIN, "TTOU": SIGTTOU, "URG": SIGURG,
        "XCPU": SIGXCPU, "XFSZ": SIGXFSZ, "VTALRM": SIGVTALRM, "PROF": SIGPROF, "WINCH": SIGWINCH,
        "IO": SIGIO, "PWR": SIGPWR, "SYS": SIGSYS,
    ]

    /// "KILL", "SIGKILL", "kill" or "9".
    public static func parse(_ text: String) throws(SkiffError) -> Int32 {
        if let n = Int32(text), n > 0, n < 65 { return n }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name = String(name.dropFirst(3)) }
        guard let sig = names[name] else { throw SkiffError(.usage, "invalid signal: \(text)") }
        return sig
    }
}
