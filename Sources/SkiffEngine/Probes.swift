import Glibc
import SkiffCommon
import SkiffKernel

/// The escape probes: what each one attempts, how its container is made, and
/// how its output is judged. `Engine.runProbes` runs them.
public struct ProbeResult: Sendable {
    public enum Verdict: String, Sendable {
        /// The kernel refused it.
        case blocked
        /// It happened, but only inside the container's own namespaces.
        case contained
        /// It happened.
        case allowed
    }
    public var name: String
    public var attempt: String
    public var verdict: Verdict
    public var layer: SandboxLayer
    /// What was seen, in a few words (errno, counts, host checks).
    public var detail: String
    /// The container's flags beyond the default ones (--read-only, limits).
    public var flags: [String]
    /// What the probe printed, parsed.
    public var output = ProbeOutput()
    /// The throwaway container's ID (removed when the probe ends).
    public var containerID = ""

    /// Held: blocked or contained.
    public var held: Bool { verdict != .allowed }
}

/// Facts from the host side that a probe is judged against.
struct ProbeContext {
    /// A pid outside the container (our own), which a probe tries to reach.
    var hostPid: Int32
    /// A path that exists on the host and not in the image.
    var hostMarker: String
    /// MAJOR:MINOR of the disk under the host's root.
    var rootDevice: String
    var hostname: () -> String
    /// Whether the container had a devices cgroup of its own.
    var ownDeviceCgroup: Bool
}

struct Probe: Sendable {
    var name: String
    var attempt: String
    var flags: [String] = []
    var configure: @Sendable (inout RunSpec) -> Void = { _ in }
    var argument: @Sendable (ProbeContext) -> String? = { _ in nil }
    var judge: @Sendable (ProbeOutput, ProbeContext, inout ProbeResult) -> Void
}

extension ProbeResult {
    mutating func set(_ verdict: Verdict, _ layer: SandboxLayer, _ detail: String) {
        self.verdict = verdict
        self.layer = layer
        self.detail = detail
    }

    /// A refused call: which layer refused it, by errno and the process's facts.
    mutating func refused(_ step: ProbeOutput.Step, _ out: ProbeOutput, syscall: String, capability: String?) {
        let code = step.errno ?? 0
        let layer: SandboxLayer
        switch code {
        case EPERM, EACCES: layer = out.refusal.layer(syscall: syscall, capability: capability)
        case ENOSYS: layer = .kernel("no \(syscall) in this kernel")
        default: layer = .kernel("\(syscall) failed with \(Errno.name(code))")
        }
        set(.blocked, layer, "\(step.name): \(Errno.name(code))")
    }
}

enum Probes {
    static func all() -> [Probe] {
        [mount, remountRoot, sysrq, masked("kcore", "/proc/kcore"), masked("timer-list", "/proc/timer_list"),
         blockDevice, module, reboot, hostname, clock, ptrace, signal, userns, keyctl, openByHandle,
         chroot, pivotRoot, forkBomb, memory, cpu]
    }

    /// Judges a probe whose one step either succeeded (`ok`) or was refused.
    static func single(_ step: String, syscall: String, capability: String?,
                       ok: @escaping @Sendable (ProbeOutput, ProbeContext) -> (ProbeResult.Verdict, SandboxLayer, String))
        -> @Sendable (ProbeOutput, ProbeContext, inout ProbeResult) -> Void {
        return { out, context, result in
            guard let s = out.step(step) else { return result.set(.blocked, .kernel("the probe did not run"), "no output") }
            if s.errno == nil {
                let (verdict, layer, detail) = ok(out, context)
                result.set(verdict, layer, detail)
            } else {
                result.refused(s, out, syscall: syscall, capability: capability)
            }
        }
    }

    static let mount = Probe(name: "mount", attempt: "mount a tmpfs",
        judge: single("mount", syscall: "mount", capability: "SYS_ADMIN") { _, _ in
            (.allowed, .none, "mounted (in the container's own mount namespace)")
        })

    static let remountRoot = Probe(name: "remount-root", attempt: "write to a --read-only root, then remount it rw",
        flags: ["--read-only"], configure: { $0.readOnlyRootfs = true },
        judge: { out, _, result in
            guard let write = out.step("write"), let remount = out.step("remount") else {
                return result.set(.blocked, .kernel("the probe did not run"), "no output")
            }
            if write.errno == nil { return result.set(.allowed, .none, "wrote to / (it was not read-only)") }
            if remount.errno == nil { return result.set(.allowed, .none, "remounted / read-write") }
            let ro = out.isReadOnly("/") ? "mountinfo: / ro" : "/ not marked ro"
            result.refused(remount, out, syscall: "mount", capability: "SYS_ADMIN")
            let remountLayer = result.layer
            result.set(.blocked, write.errno == EROFS ? .readOnlyMount("/") : remountLayer,
                       "write: \(Errno.name(write.errno!)) (\(ro)); remount: \(Errno.name(remount.errno!)), \(remountLayer.summary)")
        })

    static let sysrq = Probe(name: "sysrq", attempt: "open /proc/sysrq-trigger for writing",
        judge: { out, _, result in
            guard let open = out.step("open-write") else { return result.set(.blocked, .kernel("the probe did not run"), "no output") }
            guard let code = open.errno else {
                return result.set(.allowed, .none, "opened for writing (the probe wrote nothing)")
            }
            if code == EROFS, out.isReadOnly("/proc/sysrq-trigger") {
                return result.set(.blocked, .readOnlyMount("/proc/sysrq-trigger"), "EROFS (mountinfo: bound ro)")
            }
            if code == ENOENT, out.mount(at: "/proc/sysrq-trigger") == nil {
                return result.set(.blocked, .absent("/proc/sysrq-trigger"), "ENOENT (no magic SysRq in this kernel)")
            }
            result.refused(open, out, syscall: "open", capability: nil)
        })

    /// A file Docker masks: absent, masked (reads empty, something mounted
    /// over it), or readable.
    static func masked(_ name: String, _ path: String) -> Probe {
        Probe(name: name, attempt: "read \(path)", judge: { out, _, result in
            guard let open = out.step("open") else { return result.set(.blocked, .kernel("the probe did not run"), "no output") }
            let cover = out.mount(at: path)
            if let code = open.errno {
                if code == ENOENT {
                    return result.set(.blocked, cover == nil ? .absent(path) : .maskedPath(path), "ENOENT")
                }
                return result.refused(open, out, syscall: "open", capability: nil)
            }
            let bytes = out.note("bytes") ?? 0
            if bytes == 0, let cover {
                let what = cover.fsType == "tmpfs" ? "an empty tmpfs" : "/dev/null (from \(cover.fsType))"
                return result.set(.blocked, .maskedPath(path), "reads empty: \(what) mounted over it")
            }
            result.set(.allowed, .none, "read \(bytes) bytes")
        })
    }

    static let blockDevice = Probe(name: "block-device", attempt: "mknod the host's root disk and read it",
        argument: { $0.rootDevice },
        judge: { out, context, result in
            guard let mknod = out.step("mknod") else { return result.set(.blocked, .kernel("the probe did not run"), "no output") }
            if mknod.errno != nil { return result.refused(mknod, out, syscall: "mknod", capability: "MKNOD") }
            guard let open = out.step("open") else { return result.set(.blocked, .kernel("no open step"), "mknod ok") }
            if let code = open.errno {
                if code == EPERM {
                    return result.set(.blocked, .deviceCgroup(ours: context.ownDeviceCgroup),
                                      "mknod \(context.rootDevice): ok; open: EPERM")
                }
                return result.refused(open, out, syscall: "open", capability: nil)
            }
            if let read = out.step("read"), read.errno != nil {
                return result.set(.blocked, .kernel("read failed"), "read: \(Errno.name(read.errno!))")
            }
            result.set(.allowed, .none, "read 512 bytes of the host's disk \(context.rootDevice)")
        })

    static let module = Probe(name: "module", attempt: "load a kernel module (finit_module)",
        judge: { out, _, result in
            guard let s = out.step("finit_module") else { return result.set(.blocked, .kernel("the probe did not run"), "no output") }
            switch s.errno {
            case nil, EBADF?:
                result.set(.allowed, .none, "past the permission check (EBADF: the probe passed no module)")
            case ENOSYS?:
                result.set(.blocked, .kernel("no loadable module support"), "ENOSYS")
            case EPERM? where out.capabilities.contains("SYS_MODULE") && !out.seccompFiltering:
                result.set(.blocked, .kernel("modules disabled"), "EPERM with CAP_SYS_MODULE held")
            default:
                result.refused(s, out, syscall: "finit_module", capability: "SYS_MODULE")
            }
        })

    static let reboot = Probe(name: "reboot", attempt: "reboot(2) (the harmless CAD_OFF command)",
        judge: { out, _, result in
            guard let s = out.step("reboot") else { return result.set(.blocked, .kernel("the probe did not run"), "no output") }
            switch s.errno {
            case EINVAL?:
                result.set(.contained, .namespace("pid"),
                           "past CAP_SYS_BOOT; in its pid namespace reboot only ends the container's init")
            case nil:
                result.set(.allowed, .none, "reboot(2) accepted")
            default:
                result.refused(s, out, syscall: "reboot", capability: "SYS_BOOT")
            }
        })

    static let hostname = Probe(name: "hostname", attempt: "set the hostname",
        judge: { out, context, result in
            let before = context.hostname()
            single("sethostname", syscall: "sethostname", capability: "SYS_ADMIN") { _, context in
                let after = context.hostname()
                return after == before
                    ? (.contained, .namespace("uts"), "renamed its own uts namespace; host still \(after)")
                    : (.allowed, .none, "host hostname changed to \(after)")
            }(out, context, &result)
        })

    static let clock = Probe(name: "clock", attempt: "set the clock (settimeofday, changing nothing)",
        judge: single("settimeofday", syscall: "settimeofday", capability: "SYS_TIME") { _, _ in
            (.allowed, .none, "CAP_SYS_TIME held: the clock is not namespaced (the probe changed nothing)")
        })

    /// A host pid the probe names: ESRCH means it does not exist in there.
    static func hostProcess(_ step: String, syscall: String, capability: String?)
        -> @Sendable (ProbeOutput, ProbeContext, inout ProbeResult) -> Void {
        return { out, context, result in
            guard let s = out.step(step) else { return result.set(.blocked, .kernel("the probe did not run"), "no output") }
            let visible = out.note("visible_processes").map { ", processes it can see: \($0)" } ?? ""
            switch s.errno {
            case ESRCH?:
                let own = out.namespaces["pid"] != Namespaces.host("pid")?.link
                result.set(.blocked, .namespace("pid"),
                           "host pid \(context.hostPid): ESRCH\(own ? " (own pid namespace)" : "")\(visible)")
            case nil:
                result.set(.allowed, .none, "reached host pid \(context.hostPid)")
            default:
                result.refused(s, out, syscall: syscall, capability: capability)
            }
        }
    }

    static let ptrace = Probe(name: "ptrace", attempt: "ptrace a process outside",
        argument: { String($0.hostPid) }, judge: hostProcess("ptrace-attach", syscall: "ptrace", capability: "SYS_PTRACE"))

    static let signal = Probe(name: "signal", attempt: "see and signal a host process",
        argument: { String($0.hostPid) }, judge: hostProcess("kill", syscall: "kill", capability: "KILL"))

    static let userns = Probe(name: "userns", attempt: "unshare a new user namespace",
        judge: { out, _, result in
            guard let s = out.step("unshare-user") else { return result.set(.blocked, .kernel("the probe did not run"), "no output") }
            switch s.errno {
            case nil: result.set(.allowed, .none, "made a user namespace (root inside it, new attack surface)")
            case EUSERS?, ENOSPC?: result.set(.blocked, .kernel("user.max_user_namespaces reached"), Errno.name(s.errno!))
            default: result.refused(s, out, syscall: "unshare", capability: nil)
            }
        })

    static let keyctl = Probe(name: "keyctl", attempt: "read the kernel keyring (keyctl)",
        judge: single("keyctl", syscall: "keyctl", capability: nil) { _, _ in
            (.allowed, .none, "reached the session keyring (keyrings are not namespaced)")
        })

    static let openByHandle = Probe(name: "open-by-handle", attempt: "open the host filesystem's root by handle (shocker)",
        judge: single("open_by_handle_at", syscall: "open_by_handle_at", capability: "DAC_READ_SEARCH") { out, _ in
            (.allowed, .none, "opened inode \(out.notes["opened_inode"] ?? "?") of a host filesystem by handle")
        })

    /// chroot and pivot_root tricks: refused, or done and checked for the host.
    static func rootTrick(_ step: String, syscall: String, capability: String)
        -> @Sendable (ProbeOutput, ProbeContext, inout ProbeResult) -> Void {
        return { out, context, result in
            if out.note("host_visible") == 1 {
                return result.set(.allowed, .none, "\(context.hostMarker) visible: reached the host's root")
            }
            single(step, syscall: syscall, capability: capability) { _, context in
                (.contained, .namespace("mnt"),
                 "done, but \"..\" of its root is its root: \(context.hostMarker) stays out of sight")
            }(out, context, &result)
        }
    }

    static let chroot = Probe(name: "chroot", attempt: "chroot + fchdir + \"..\" to the host's root",
        argument: { $0.hostMarker }, judge: rootTrick("chroot-dot", syscall: "chroot", capability: "SYS_CHROOT"))

    /// pivot_root refuses (EBUSY) to swap / for itself once past the capability
    /// check: the host's old root is no longer in this mount namespace to swap back to.
    static let pivotRoot = Probe(name: "pivot-root", attempt: "pivot_root to the old root",
        argument: { $0.hostMarker }, judge: { out, context, result in
            if let s = out.step("pivot_root"), s.errno == EBUSY, out.note("host_visible") != 1 {
                return result.set(.contained, .namespace("mnt"),
                                  "past CAP_SYS_ADMIN, EBUSY: / is already its root, the host's is not in its mount namespace")
            }
            rootTrick("pivot_root", syscall: "pivot_root", capability: "SYS_ADMIN")(out, context, &result)
        })

    static let pidsLimit: Int64 = 32
    static let forkBomb = Probe(name: "fork-bomb", attempt: "fork until the kernel says no",
        flags: ["--pids-limit \(pidsLimit)"], configure: { $0.limits.pidsLimit = pidsLimit },
        judge: { out, _, result in
            let forked = out.note("forked") ?? 0
            if let s = out.step("fork"), s.errno == EAGAIN, forked < Int(pidsLimit) {
                return result.set(.blocked, .cgroup("pids.max \(pidsLimit)"), "stopped after \(forked) forks: EAGAIN")
            }
            result.set(.allowed, .none, "forked \(forked) processes")
        })

    static let memoryMiB: Int64 = 32
    static let memory = Probe(name: "memory", attempt: "touch 256 MiB of memory",
        flags: ["--memory \(memoryMiB)m"], configure: { $0.limits.memoryBytes = memoryMiB << 20 },
        argument: { _ in "256" },
        judge: { out, _, result in
            let touched = out.note("touched_mib") ?? 0
            if out.note("killed_by") == Int(SIGKILL), touched < 256 {
                return result.set(.blocked, .cgroup("memory \(memoryMiB) MiB"),
                                  "OOM-killed in its own cgroup after \(touched) MiB")
            }
            result.set(.allowed, .none, "touched \(touched) MiB")
        })

    static let cpu = Probe(name: "cpu", attempt: "spin two processes for one second",
        flags: ["--cpus 0.5"], configure: { $0.limits.nanoCpus = 500_000_000 },
        judge: { out, _, result in
            let cpu = out.note("cpu_ms") ?? 0, wall = max(out.note("wall_ms") ?? 1, 1)
            let percent = cpu * 100 / wall
            let detail = "\(cpu) ms of CPU in \(wall) ms: \(percent)% of one core"
            result.set(percent <= 60 ? .blocked : .allowed, percent <= 60 ? .cgroup("cpu 0.5") : .none, detail)
        })
}
