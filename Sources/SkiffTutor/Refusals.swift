import SkiffCommon
import SkiffEngine

/// When a command in a container fails with "Operation not permitted",
/// "Permission denied" or "Read-only file system", says which part of the
/// sandbox refused it and which flag would change that. Decided from the
/// failing program's name (mapped to the syscall and capability it needs)
/// and the container's security settings, never from the message alone.
struct RefusalExplainer {
    /// What a container was given: its capabilities, seccomp, root mount.
    struct Confinement {
        var capabilities: [String]
        var privileged: Bool
        var readOnlyRootfs: Bool
        /// The recorded profile: "builtin", "unconfined", a file, or nil (none).
        var seccompProfile: String?
        /// Masked /proc and /sys paths, read live from a running container.
        var maskedPaths: [String] = []
    }

    /// Programs (busybox applets) and what they ask the kernel for.
    static let needs: [String: (syscall: String, capability: String?)] = [
        "mount": ("mount", "SYS_ADMIN"), "umount": ("umount2", "SYS_ADMIN"), "swapon": ("swapon", "SYS_ADMIN"),
        "swapoff": ("swapoff", "SYS_ADMIN"), "pivot_root": ("pivot_root", "SYS_ADMIN"),
        "switch_root": ("mount", "SYS_ADMIN"), "unshare": ("unshare", "SYS_ADMIN"), "nsenter": ("setns", "SYS_ADMIN"),
        "hostname": ("sethostname", "SYS_ADMIN"), "losetup": ("ioctl", "SYS_ADMIN"),
        "fsfreeze": ("ioctl", "SYS_ADMIN"), "fstrim": ("ioctl", "SYS_ADMIN"), "blockdev": ("ioctl", "SYS_ADMIN"),
        "date": ("settimeofday", "SYS_TIME"), "hwclock": ("settimeofday", "SYS_TIME"),
        "rdate": ("settimeofday", "SYS_TIME"), "adjtimex": ("adjtimex", "SYS_TIME"),
        "mknod": ("mknod", "MKNOD"), "insmod": ("finit_module", "SYS_MODULE"), "modprobe": ("finit_module", "SYS_MODULE"),
        "rmmod": ("delete_module", "SYS_MODULE"), "reboot": ("reboot", "SYS_BOOT"), "poweroff": ("reboot", "SYS_BOOT"),
        "halt": ("reboot", "SYS_BOOT"), "chroot": ("chroot", "SYS_CHROOT"), "kill": ("kill", "KILL"),
        "killall": ("kill", "KILL"), "chown": ("chown", "CHOWN"), "chgrp": ("chown", "CHOWN"),
        "ip": ("netlink", "NET_ADMIN"), "ifconfig": ("ioctl", "NET_ADMIN"), "route": ("ioctl", "NET_ADMIN"),
        "brctl": ("ioctl", "NET_ADMIN"), "tunctl": ("ioctl", "NET_ADMIN"), "vconfig": ("ioctl", "NET_ADMIN"),
        "nameif": ("ioctl", "NET_ADMIN"), "ping": ("socket", "NET_RAW"), "arping": ("socket", "NET_RAW"),
        "traceroute": ("socket", "NET_RAW"), "renice": ("setpriority", "SYS_NICE"), "nice": ("setpriority", "SYS_NICE"),
        "ionice": ("ioprio_set", "SYS_ADMIN"), "dmesg": ("syslog", "SYSLOG"), "setpriv": ("prctl", "SETPCAP"),
    ]

    static let refusalTexts = ["operation not permitted", "permission denied", "read-only file system"]

    /// One explanation per failing program in `output`, at most three.
    static func explain(output: String, confinement: Confinement, lang: Language) -> [String] {
        var out: [String] = []
        var seen = Set<String>()
        for raw in output.split(separator: "\n") {
            let line = raw.lowercased()
            guard refusalTexts.contains(where: line.contains) else { continue }
            let program = String(raw.split(separator: ":").first ?? "").trimmingCharacters(in: " ")
            guard !program.isEmpty, seen.insert(program + line).inserted, out.count < 3 else { continue }
            if let text = explainLine(String(raw), program: program, confinement: confinement, lang: lang) { out.append(text) }
        }
        return out
    }

    static func explainLine(_ line: String, program: String, confinement c: Confinement, lang: Language) -> String? {
        let zh = lang == .zh
        if line.lowercased().contains("read-only file system") {
            let path = writtenPath(line, program: program)
            let masked = c.maskedPaths.first { path == $0 || path.hasPrefix($0 + "/") }
            let layer: SandboxLayer = masked.map { .maskedPath($0) }
                ?? ((path.hasPrefix("/proc/") || path.hasPrefix("/sys")) && !c.privileged ? .readOnlyMount(path) : .readOnlyMount("/"))
            if layer == .readOnlyMount("/") && !c.readOnlyRootfs && !path.isEmpty {
                return zh ? "\(program):\(path) 所在的挂载是只读的。"
                          : "\(program): \(path) is on a read-only mount."
            }
            return describe(program, layer: layer, action: zh ? "写入 \(path)" : "writing \(path)", lang: lang)
        }
        guard let need = needs[program] else { return nil }
        let facts = SeccompFacts.facts(capabilities: c.capabilities, seccompProfile: c.seccompProfile)
        let layer = facts.layer(syscall: need.syscall, capability: need.capability)
        return describe(program, layer: layer, action: need.syscall + "(2)", lang: lang)
    }

    /// The path a failed write names: the first absolute path in the line, or
    /// for sysctl its key under /proc/sys.
    static func writtenPath(_ line: String, program: String) -> String {
        if program == "sysctl", let quote = line.firstIndex(of: "'") {
            let key = line[line.index(after: quote)...].prefix { $0 != "'" }
            return "/proc/sys/" + key.replacingOccurrences(of: ".", with: "/")
        }
        return line.split(separator: " ").first { $0.hasPrefix("/") }.map { String($0).trimmingCharacters(in: ":'\"") } ?? ""
    }

    static func describe(_ program: String, layer: SandboxLayer, action: String, lang: Language) -> String? {
        let zh = lang == .zh
        let why: String
        switch layer {
        case .seccomp(let call, let cap?):
            why = zh ? "seccomp 过滤器拒绝了 \(call) 系统调用:配置只在容器拥有 CAP_\(cap) 时才放行它,而这个容器没有"
                     : "the seccomp filter refused the \(call) syscall: the profile allows it only with CAP_\(cap), which this container lacks"
        case .seccomp(let call, nil):
            why = zh ? "seccomp 过滤器拒绝了 \(call) 系统调用" : "the seccomp filter refused the \(call) syscall"
        case .capability(let cap):
            why = zh ? "这个容器没有 CAP_\(cap) 能力(Docker 的默认能力集里没有它)"
                     : "this container lacks CAP_\(cap) (not in Docker's default set)"
        case .readOnlyMount(let path) where path == "/":
            why = zh ? "容器的根文件系统是只读挂载的(--read-only)" : "the container's root is mounted read-only (--read-only)"
        case .readOnlyMount(let path):
            why = zh ? "\(path) 被只读挂载,容器无法通过它改动宿主机内核"
                     : "\(path) is bound read-only so the container cannot change the host's kernel through it"
        case .maskedPath(let path):
            why = zh ? "\(path) 被遮住了(上面挂着空的只读 tmpfs 或 /dev/null),它会泄露或改动宿主机的信息"
                     : "\(path) is masked (an empty read-only tmpfs or /dev/null is mounted over it): it would show or change the host"
        default:
            return nil
        }
        let flag = zh ? "会改变这一点的参数:" : "flag that would change it: "
        return (zh ? "沙箱拒绝了 \(program)(\(action)):" : "The sandbox refused \(program) (\(action)): ")
            + why + (zh ? "。" : ". ") + flag + (zh && layer == .readOnlyMount("/") ? "去掉 --read-only" : layer.flag)
    }

    /// What `--privileged` gives away, said before such a container starts.
    static func privilegedWarning(lang: Language) -> String {
        lang == .zh
            ? "注意:--privileged 给容器所有能力(包括 CAP_SYS_ADMIN、CAP_SYS_MODULE),关掉 seccomp,不再遮住 /proc 里的敏感文件,/sys 可写。容器里的 root 几乎就是宿主机的 root:它可以挂载文件系统、创建设备节点、改宿主机的时钟。只在一次性的练习容器里用它。"
            : "Warning: --privileged gives the container every capability (CAP_SYS_ADMIN and CAP_SYS_MODULE among them), turns seccomp off, unmasks /proc and makes /sys writable. Root in there is nearly root on the host: it can mount filesystems, make device nodes, set the host's clock. Use it only in a throwaway container."
    }
}

extension TutorSession {
    /// After a failed `run` or `exec`: which part of the sandbox said no.
    func explainRefusals(_ form: CommandForm, output: String, before: [String: Seen]) {
        guard form.command == "run" || form.command == "exec" else { return }
        guard let confinement = confinement(of: form, before: before) else { return }
        for text in RefusalExplainer.explain(output: output, confinement: confinement, lang: lang) {
            screen.say(screen.yellow(text))
        }
    }

    /// The container's recorded settings when it still exists, else what the
    /// `run` flags gave it (a --rm container is gone by now).
    func confinement(of form: CommandForm, before: [String: Seen]) -> RefusalExplainer.Confinement? {
        let container: Container?
        if form.command == "exec" {
            container = form.positionals.first.flatMap { try? engine.container($0) }
        } else {
            container = engine.list(all: true).first { before[$0.id] == nil }
        }
        if let container {
            let c = container.config
            let masked = container.isRunning ? engine.kernelView(container).Security?.MaskedPaths ?? [] : []
            return .init(capabilities: c.capabilities, privileged: c.privileged, readOnlyRootfs: c.readOnlyRootfs,
                         seccompProfile: c.seccompProfile, maskedPaths: masked)
        }
        guard form.command == "run" else { return nil }
        let privileged = form.options["--privileged"] != nil
        guard let caps = try? Engine.capabilities(add: form.options["--cap-add"] ?? [], drop: form.options["--cap-drop"] ?? [],
                                                  privileged: privileged) else { return nil }
        // As `run` decides it: --privileged or seccomp=unconfined turn it off.
        let options = try? SecurityOptions.parse(form.options["--security-opt"] ?? [])
        let profile: String
        switch options?.seccomp {
        case .unconfined?: profile = "unconfined"
        case .file(let path)?: profile = path
        default: profile = "builtin"
        }
        return .init(capabilities: caps, privileged: privileged, readOnlyRootfs: form.options["--read-only"] != nil,
                     seccompProfile: privileged ? "unconfined" : profile)
    }
}
