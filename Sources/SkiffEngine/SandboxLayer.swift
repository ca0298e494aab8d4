import Glibc
import SkiffCommon
import SkiffKernel

/// One of the things that keep a container in, as the escape probes and the
/// tutor's explained refusals name them, with the flag that would change it.
public enum SandboxLayer: Equatable, Sendable {
    /// The seccomp filter refused the syscall before the kernel looked further;
    /// `capability`: the profile allows it to a container holding that one.
    case seccomp(syscall: String, capability: String? = nil)
    /// The process lacks this capability (name without CAP_).
    case capability(String)
    /// The path sits on a read-only mount.
    case readOnlyMount(String)
    /// Something is mounted over the path (/dev/null, an empty tmpfs).
    case maskedPath(String)
    /// The kernel does not have the path at all.
    case absent(String)
    /// The container's own namespace (pid, uts, mnt) keeps the effect inside.
    case namespace(String)
    /// A cgroup limit stopped it: pids, memory, cpu.
    case cgroup(String)
    /// A devices cgroup refused to open a device node; `ours` when it is the
    /// container's own allow-list, else one above Skiff (the machine's).
    case deviceCgroup(ours: Bool)
    /// This kernel lacks the feature (no module support, a sysctl).
    case kernel(String)
    /// Nothing stopped it.
    case none

    /// A short phrase for the table and the tutor.
    public var summary: String {
        switch self {
        case .seccomp(let call, let cap?): return "seccomp (\(call) allowed only with CAP_\(cap))"
        case .seccomp(let call, nil): return "seccomp (\(call) refused by the profile)"
        case .capability(let cap): return "capability CAP_\(cap) missing"
        case .readOnlyMount(let path): return "read-only mount (\(path))"
        case .maskedPath(let path): return "masked path (\(path))"
        case .absent(let path): return "absent from this kernel (\(path))"
        case .namespace(let type): return "\(type) namespace"
        case .cgroup(let what): return "cgroup limit (\(what))"
        case .deviceCgroup(let ours): return ours ? "devices cgroup (the container's allow-list)"
                                                  : "devices cgroup above Skiff's (this machine's own)"
        case .kernel(let why): return "kernel (\(why))"
        case .none: return "nothing"
        }
    }

    /// The flag that would lift this layer, or what the learner should know
    /// when no flag does.
    public var flag: String {
        switch self {
        case .seccomp(_, let cap?): return "--cap-add \(cap)"
        case .seccomp: return "--security-opt seccomp=unconfined"
        case .capability(let cap): return "--cap-add \(cap)"
        case .readOnlyMount(let path): return path == "/" ? "run without --read-only" : "--privileged"
        case .maskedPath: return "--privileged"
        case .absent, .kernel, .none: return "-"
        case .namespace(let type):
            return ["pid": "none (Docker: --pid=host)", "uts": "none (Docker: --uts=host)"][type] ?? "none"
        case .cgroup(let what):
            if what.hasPrefix("pids") { return "--pids-limit" }
            if what.hasPrefix("memory") { return "--memory" }
            return "--cpus"
        case .deviceCgroup(let ours): return ours ? "--privileged" : "none (outside Skiff)"
        }
    }
}

/// Why a syscall was refused with EPERM or EACCES, decided from facts about
/// the process: its effective capabilities, whether a seccomp filter is on,
/// and what the profile in force says about the call for those capabilities.
public struct RefusalFacts: Sendable {
    public var capabilities: [String]
    /// /proc/PID/status Seccomp: 2 means a filter is loaded.
    public var seccompFiltering: Bool
    /// Whether the profile in force refuses a syscall for these capabilities:
    /// nil when unknown (no profile to read).
    public var seccompRefuses: @Sendable (_ syscall: String, _ capabilities: [String]) -> Bool?

    public init(capabilities: [String], seccompFiltering: Bool,
                seccompRefuses: @escaping @Sendable (String, [String]) -> Bool? = { SeccompFacts.refuses($0, capabilities: $1) }) {
        self.capabilities = capabilities
        self.seccompFiltering = seccompFiltering
        self.seccompRefuses = seccompRefuses
    }

    /// The first layer the kernel consults decides: seccomp runs at syscall
    /// entry, the capability check inside the call.
    public func layer(syscall: String, capability: String?) -> SandboxLayer {
        if seccompFiltering, seccompRefuses(syscall, capabilities) == true {
            // Docker's profile opens a call to a container given the capability
            // it needs anyway: then that capability is the one flag to name.
            let opens = capability.flatMap { seccompRefuses(syscall, capabilities + [$0]) == false ? $0 : nil }
            return .seccomp(syscall: syscall, capability: opens)
        }
        if let capability, !capabilities.contains(capability) { return .capability(capability) }
        return .kernel("refused although CAP_\(capability ?? "?") is held")
    }
}

/// The errno names the probes and the tutor print.
public enum Errno {
    public static func name(_ code: Int32) -> String {
        let names: [Int32: String] = [EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EACCES: "EACCES",
                                      EBADF: "EBADF", EINVAL: "EINVAL", EROFS: "EROFS", ENOSYS: "ENOSYS",
                                      EAGAIN: "EAGAIN", ENOMEM: "ENOMEM", EUSERS: "EUSERS", ENOSPC: "ENOSPC",
                                      ESTALE: "ESTALE", EOPNOTSUPP: "EOPNOTSUPP", EBUSY: "EBUSY"]
        return names[code] ?? "errno \(code)"
    }
}

extension Engine {
    /// The capabilities `run` gives for these flags, for front ends that
    /// explain a container they only know by its command line.
    public static func capabilities(add: [String], drop: [String], privileged: Bool) throws(SkiffError) -> [String] {
        try CapabilitySet.resolve(add: add, drop: drop, privileged: privileged)
    }
}
