import FoundationEssentials
import SkiffCommon
import SkiffKernel

/// What `run`/`create` decided about a container, written once to
/// containers/ID/config.json. Every kernel object the container will own is
/// recorded here before it is created, so `rm -f` can always clean up.
public struct ContainerConfig: Codable, Sendable {
    public var id: String
    public var name: String
    public var created: Date
    /// The image as the user typed it, and what it resolved to.
    public var image: String
    public var imageID: String
    public var entrypoint: [String]
    public var cmd: [String]
    public var env: [String]
    public var hostname: String
    public var workingDir: String
    public var tty: Bool
    public var openStdin: Bool
    public var autoRemove: Bool
    /// The capabilities its processes keep (names without CAP_), decided at create.
    public var capabilities: [String] = ContainerConfig.defaultCapabilities
    public var privileged = false
    public var readOnlyRootfs = false
    /// --security-opt as given (inspect's HostConfig.SecurityOpt).
    public var securityOpt: [String]? = nil
    /// "builtin", "unconfined" or the profile file given; the compiled
    /// filter is seccomp.bpf in the container's directory. nil: made before
    /// Skiff had seccomp (no filter).
    public var seccompProfile: String? = nil
    /// no_new_privs for its processes: on unless --privileged (or
    /// no-new-privileges=false); `--security-opt no-new-privileges` forces it on.
    public var noNewPrivileges: Bool? = nil
    /// --user, else the image's User; nil or empty is root.
    public var user: String? = nil
    public var ulimits: [Ulimit]? = nil
    /// --group-add, as given.
    public var groupAdd: [String]? = nil

    /// Docker's default set.
    public static let defaultCapabilities = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
                                             "SETPCAP", "NET_BIND_SERVICE", "NET_RAW", "SYS_CHROOT", "MKNOD",
                                             "AUDIT_WRITE", "SETFCAP"]
    public var limits: ResourceLimits
    /// "HOST:CONTAINER" or "HOST:CONTAINER:ro", as Docker shows them.
    public var binds: [String]
    /// Unpacked image layers, bottom first: the overlay's lower dirs.
    public var lowerDirs: [String]
    public var cgroupVersion: CgroupVersion?
    public var cgroupName: String
    /// Recorded before creation; removed by the monitor on exit and by `rm`.
    public var cgroupDirs: [String]

    /// The process the container runs: entrypoint then cmd.
    public var command: [String] { entrypoint + cmd }
}

/// What the running container looks like, read from the small files the
/// monitor writes (pid, exit): never a cache that can go stale.
public enum ContainerStatus: String, Codable, Sendable {
    case created, running, exited
}

public struct RuntimeState: Sendable, Equatable {
    public var status: ContainerStatus
    public var pid: Int32 = 0
    public var monitorPid: Int32 = 0
    public var exitCode: Int32 = 0
    public var oomKilled = false
    public var startedAt: Date?
    public var finishedAt: Date?
}

public struct Container: Sendable {
    public var config: ContainerConfig
    public var state: RuntimeState
    public var directory: String

    public var id: String { config.id }
    public var shortID: String { String(config.id.prefix(12)) }
    public var name: String { config.name }
    public var upperDir: String { directory + "/upper" }
    public var workDir: String { directory + "/work" }
    public var mergedDir: String { directory + "/merged" }
    public var logPath: String { directory + "/\(config.id)-json.log" }
    public var isRunning: Bool { state.status == .running }
}

enum StateFiles {
    static func date(nanos: Int64) -> Date {
        Date(timeIntervalSince1970: Double(nanos) / 1_000_000_000)
    }

    /// pid file: "PID STARTTIME MONITORPID STARTEDNANOS"; exit file:
    /// "CODE FINISHEDNANOS OOMKILLS". A pid whose start time no longer matches
    /// belongs to another process now: the container is gone.
    static func read(directory: String) -> RuntimeState {
        let pidFields = ((try? Files.readString(directory + "/pid")) ?? nil)?
            .split(whereSeparator: { $0 == " " || $0 == "\n" }) ?? []
        let exitFields = ((try? Files.readString(directory + "/exit")) ?? nil)?
            .split(whereSeparator: { $0 == " " || $0 == "\n" }) ?? []
        guard pidFields.count >= 4, let pid = Int32(pidFields[0]), let started = Int64(pidFields[3]) else {
            return RuntimeState(status: .created)
        }
        var state = RuntimeState(status: .running, pid: pid, monitorPid: Int32(pidFields[2]) ?? 0,
                                 startedAt: date(nanos: started))
        if exitFields.count >= 3, let code = Int32(exitFields[0]), let finished = Int64(exitFields[1]) {
            state.status = .exited
            state.exitCode = code
            state.finishedAt = date(nanos: finished)
            state.oomKilled = (Int(exitFields[2]) ?? 0) > 0
            state.pid = 0
            return state
        }
        if ProcessInfoLite.startTime(of: pid) != String(pidFields[1]),
           ProcessInfoLite.command(of: state.monitorPid) != "skiff-spawn" {
            // Gone, and the monitor died without writing the exit file (killed,
            // crashed). While the monitor lives, the exit file is on its way:
            // the container still counts as running for that moment.
            state.status = .exited
            state.exitCode = 255
            state.pid = 0
        }
        return state
    }
}

enum ProcessInfoLite {
    /// /proc/PID/comm: the process's command name, nil when it is gone.
    static func command(of pid: Int32) -> String? {
        guard pid > 0 else { return nil }
        return ((try? Files.readString("/proc/\(pid)/comm")) ?? nil)?.trimmed
    }

    /// Field 22 of /proc/PID/stat, the process's start time in clock ticks.
    static func startTime(of pid: Int32) -> String? {
        guard let stat = (try? Files.readString("/proc/\(pid)/stat")) ?? nil,
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }
}
