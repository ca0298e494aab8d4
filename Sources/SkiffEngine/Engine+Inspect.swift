import FoundationEssentials
import SkiffCommon
import SkiffKernel

/// `docker inspect`'s shape, plus `Kernel`: the objects this container owns
/// in the kernel, read live from /proc and the cgroup filesystem.
public struct InspectDocument: Encodable, Sendable {
    public struct State: Encodable, Sendable {
        var Status: String
        var Running: Bool
        var Paused = false
        var Restarting = false
        var OOMKilled: Bool
        var Dead = false
        var Pid: Int32
        var ExitCode: Int32
        var Error = ""
        var StartedAt: String
        var FinishedAt: String
    }
    public struct Config: Encodable, Sendable {
        var Hostname: String
        var User: String
        var Tty: Bool
        var OpenStdin: Bool
        var Env: [String]
        var Cmd: [String]
        var Image: String
        var WorkingDir: String
        var Entrypoint: [String]?
    }
    public struct HostConfig: Encodable, Sendable {
        var Binds: [String]?
        var Memory: Int64
        var NanoCpus: Int64
        var PidsLimit: Int64?
        var AutoRemove: Bool
        var CapAdd: [String]?
        var CapDrop: [String]?
        var Privileged: Bool
        var ReadonlyRootfs: Bool
        var SecurityOpt: [String]?
        var Ulimits: [Ulimit]?
        var GroupAdd: [String]?
        var CgroupnsMode = "private"
        var IpcMode = "private"
        var NetworkMode = "none"
        var PidMode = ""
        var UTSMode = ""
    }
    public struct GraphDriver: Encodable, Sendable {
        var Name = "overlay2"
        var Data: [String: String]
    }
    public struct NamespaceView: Encodable, Sendable {
        public var `Type`: String
        public var Container: String
        public var Host: String
        public var Shared: Bool
    }
    public struct CgroupView: Encodable, Sendable {
        public var Version: String
        public var Directories: [String]
        public var Files: [CgroupFileValue]
    }
    public struct OverlayView: Encodable, Sendable {
        public var MountPoint: String
        public var Options: String
        public var SuperOptions: String
    }
    public struct SecurityView: Encodable, Sendable {
        public var Capabilities: [String]
        public var NoNewPrivs: Bool
        public var Seccomp: String
        /// How many filters the kernel runs for it (/proc/PID/status Seccomp_filters).
        public var SeccompFilters: Int
        /// The profile the filter was compiled from: builtin, a file, or unconfined.
        public var SeccompProfile: String
        public var MaskedPaths: [String]
        public var ReadonlyPaths: [String]
    }
    public struct Kernel: Encodable, Sendable {
        public var Namespaces: [NamespaceView]
        public var Cgroups: CgroupView
        public var Overlay: OverlayView?
        /// What its PID 1 may do, read from /proc/PID/status and its mounts.
        public var Security: SecurityView?
    }

    var Id: String
    var Created: String
    var Path: String
    var Args: [String]
    var State: State
    var Image: String
    var ResolvConfPath: String
    var HostnamePath: String
    var HostsPath: String
    var LogPath: String
    var Name: String
    var RestartCount = 0
    var Driver = "overlay2"
    var Platform = "linux"
    var HostConfig: HostConfig
    var GraphDriver: GraphDriver
    var Config: Config
    public var Kernel: Kernel
}

extension Engine {
    public func inspect(_ reference: String) throws(SkiffError) -> InspectDocument {
        let c = try container(reference)
        let cfg = c.config
        let zero = "0001-01-01T00:00:00Z"
        let state = InspectDocument.State(
            Status: c.state.status.rawValue, Running: c.isRunning, OOMKilled: c.state.oomKilled,
            Pid: c.state.pid, ExitCode: c.state.exitCode,
            StartedAt: c.state.startedAt.map { Time.rfc3339Nano(seconds: $0.timeIntervalSince1970) } ?? zero,
            FinishedAt: c.state.finishedAt.map { Time.rfc3339Nano(seconds: $0.timeIntervalSince1970) } ?? zero)
        let command = cfg.command
        // Relative to Docker's default set, as `docker inspect` shows them.
        let defaults = ContainerConfig.defaultCapabilities
        let added = cfg.privileged ? [] : cfg.capabilities.filter { !defaults.contains($0) }
        let dropped = cfg.privileged ? [] : defaults.filter { !cfg.capabilities.contains($0) }
        return InspectDocument(
            Id: cfg.id, Created: Time.rfc3339Nano(seconds: cfg.created.timeIntervalSince1970),
            Path: command.first ?? "", Args: Array(command.dropFirst()), State: state, Image: cfg.imageID,
            ResolvConfPath: c.directory + "/resolv.conf", HostnamePath: c.directory + "/hostname",
            HostsPath: c.directory + "/hosts", LogPath: c.logPath, Name: "/" + cfg.name,
            HostConfig: .init(Binds: cfg.binds.isEmpty ? nil : cfg.binds, Memory: cfg.limits.memoryBytes ?? 0,
                              NanoCpus: cfg.limits.nanoCpus ?? 0, PidsLimit: cfg.limits.pidsLimit,
                              AutoRemove: cfg.autoRemove,
                              CapAdd: added.isEmpty ? nil : added, CapDrop: dropped.isEmpty ? nil : dropped,
                              Privileged: cfg.privileged, ReadonlyRootfs: cfg.readOnlyRootfs,
                              SecurityOpt: cfg.securityOpt, Ulimits: cfg.ulimits, GroupAdd: cfg.groupAdd),
            GraphDriver: .init(Data: ["LowerDir": cfg.lowerDirs.reversed().joined(separator: ":"),
                                      "UpperDir": c.upperDir, "WorkDir": c.workDir, "MergedDir": c.mergedDir]),
            Config: .init(Hostname: cfg.hostname, User: cfg.user ?? "", Tty: cfg.tty, OpenStdin: cfg.openStdin, Env: cfg.env, Cmd: cfg.cmd,
                          Image: cfg.image, WorkingDir: cfg.workingDir == "/" ? "" : cfg.workingDir,
                          Entrypoint: cfg.entrypoint.isEmpty ? nil : cfg.entrypoint),
            Kernel: kernelView(c))
    }

    /// Live kernel objects: empty namespaces and no overlay when not running.
    public func kernelView(_ c: Container) -> InspectDocument.Kernel {
        var namespaces: [InspectDocument.NamespaceView] = []
        if c.isRunning {
            for type in Namespaces.containerTypes + Namespaces.sharedTypes {
                guard let mine = Namespaces.namespace(of: c.state.pid, type) else { continue }
                let host = Namespaces.host(type)
                namespaces.append(.init(Type: type, Container: mine.link, Host: host?.link ?? "?",
                                        Shared: host?.link == mine.link))
            }
        }
        var files: [CgroupFileValue] = []
        if let driver = try? cgroupDriver(), c.isRunning {
            files = driver.limitFiles(for: c.config.cgroupName)
        }
        var overlay: InspectDocument.OverlayView? = nil
        var security: InspectDocument.SecurityView? = nil
        if c.isRunning, let text = try? Files.readString("/proc/\(c.state.pid)/mountinfo") {
            let mounts = MountInfo.parse(text)
            if let root = mounts.first(where: { $0.mountPoint == "/" && $0.fsType == "overlay" }) {
                overlay = .init(MountPoint: "/", Options: root.mountOptions, SuperOptions: root.superOptions)
            }
            security = securityView(pid: c.state.pid, mounts: mounts, profile: c.config.seccompProfile ?? "unconfined")
        }
        return .init(Namespaces: namespaces,
                     Cgroups: .init(Version: c.config.cgroupVersion?.rawValue ?? "none",
                                    Directories: c.isRunning ? c.config.cgroupDirs.filter { Files.exists($0) } : [],
                                    Files: files),
                     Overlay: overlay, Security: security)
    }

    /// Masked: something else mounted over a /proc or /sys entry (/dev/null,
    /// an empty tmpfs). Read-only: a /proc entry bound read-only.
    func securityView(pid: Int32, mounts: [MountInfo], profile: String) -> InspectDocument.SecurityView? {
        guard let caps = Capabilities.statusField("CapEff", pid: pid) else { return nil }
        let under = mounts.filter { ($0.mountPoint.hasPrefix("/proc/") || $0.mountPoint.hasPrefix("/sys/")) }
        let masked = under.filter { $0.fsType != "proc" && $0.fsType != "sysfs" }.map(\.mountPoint)
        let readOnly = under.filter { $0.fsType == "proc" && $0.mountOptions.hasPrefix("ro") }.map(\.mountPoint)
        let seccomp = ["0": "disabled", "1": "strict", "2": "filter"][Capabilities.statusField("Seccomp", pid: pid) ?? ""] ?? "unknown"
        return .init(Capabilities: Capabilities.decode(caps),
                     NoNewPrivs: Capabilities.statusField("NoNewPrivs", pid: pid) == "1",
                     Seccomp: seccomp,
                     SeccompFilters: Int(Capabilities.statusField("Seccomp_filters", pid: pid) ?? "") ?? 0,
                     SeccompProfile: profile, MaskedPaths: masked, ReadonlyPaths: readOnly)
    }

    public func inspectJSON(_ references: [String]) throws(SkiffError) -> String {
        var docs: [InspectDocument] = []
        for r in references { docs.append(try inspect(r)) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .withoutEscapingSlashes, .sortedKeys]
        do {
            return String(decoding: try encoder.encode(docs), as: UTF8.self)
        } catch {
            throw SkiffError(.system, "encode inspect output: \(error)")
        }
    }
}
