import FoundationEssentials
import SkiffCommon
import SkiffKernel

/// `skiff explain`: the same facts as `inspect`'s Kernel object, in plain
/// words for a learner. The tutor shows these views after each step.
public enum ExplainSection: String, CaseIterable, Sendable {
    case namespaces = "ns", cgroups, layers

    /// The sections a word of `show WHAT` names (CLI and tutor); nil when
    /// the word names none.
    public static func named(_ word: String) -> [ExplainSection]? {
        switch word {
        case "ns", "namespaces": return [.namespaces]
        case "cgroups", "cgroup": return [.cgroups]
        case "layers", "fs": return [.layers]
        case "all": return allCases
        default: return nil
        }
    }
}

extension Engine {
    /// cgroup v1 writes "no limit" as the largest page-aligned count
    /// (9223372036854771712); say so rather than "8388608.0 TiB".
    static func memoryLimit(_ bytes: Int64) -> String {
        bytes >= Int64(1) << 62 ? "unlimited" : Time.bytes(bytes)
    }

    public func explain(_ reference: String, sections: [ExplainSection] = ExplainSection.allCases) throws(SkiffError) -> String {
        let c = try container(reference)
        let kernel = kernelView(c)
        var out: [String] = []
        let status: String
        switch c.state.status {
        case .running: status = "running as PID \(c.state.pid) on the host; inside, its command is PID 1"
        case .exited: status = "exited with code \(c.state.exitCode)\(c.state.oomKilled ? " (killed by the kernel: out of memory)" : ""); its namespaces and cgroups are gone, its files remain"
        case .created: status = "created, not started: nothing exists in the kernel yet"
        }
        out.append("Container \(c.name) (\(c.shortID)), image \(c.config.image): \(status).")
        if sections.contains(.namespaces) { out.append(""); out += namespaceLines(c, kernel) }
        if sections.contains(.cgroups) { out.append(""); out += cgroupLines(c, kernel) }
        if sections.contains(.layers) { out.append(""); out += layerLines(c, kernel) }
        if sections.contains(.namespaces), let s = kernel.Security {
            out.append("")
            out.append("What its processes may do")
            out.append("  capabilities (\(s.Capabilities.count) of \(Capabilities.names.count)): "
                       + (s.Capabilities.isEmpty ? "none in effect" : s.Capabilities.joined(separator: " ")))
            let notable = ["SYS_ADMIN", "SYS_MODULE", "SYS_TIME", "SYS_BOOT", "SYS_PTRACE", "NET_ADMIN"]
            let missing = notable.filter { !s.Capabilities.contains($0) }
            if !missing.isEmpty { out.append("    not among them: " + missing.joined(separator: " ") + " (SYS_ADMIN is what mount needs)") }
            out.append("  no_new_privs: \(s.NoNewPrivs ? "on (exec can never gain privileges)" : "off (a setuid program could gain privileges)")")
            out.append("  seccomp: " + seccompSentence(s))
            if let user = c.config.user { out.append("  runs as user \(user) (a non-root user keeps no effective capabilities)") }
            for limit in c.config.ulimits ?? [] {
                func show(_ n: Int64) -> String { n == -1 ? "unlimited" : String(n) }
                out.append("  ulimit \(limit.name): soft \(show(limit.soft)), hard \(show(limit.hard))")
            }
            out.append("  hidden: " + s.MaskedPaths.joined(separator: " "))
            out.append("  read-only: " + s.ReadonlyPaths.joined(separator: " "))
        }
        return out.joined(separator: "\n")
    }

    /// The filter in words: what it is, where it came from, what it refuses.
    func seccompSentence(_ s: InspectDocument.SecurityView) -> String {
        switch s.Seccomp {
        case "filter":
            let source = s.SeccompProfile == "builtin"
                ? "Skiff's default profile (Docker's rules): syscalls not on its list, such as mount, unshare, keyctl, reboot "
                    + "and init_module, fail with EPERM unless the container holds the capability they need"
                : "the profile \(s.SeccompProfile)"
            return "a BPF filter checks every syscall (\(s.SeccompFilters) loaded), from \(source); --security-opt seccomp=unconfined turns it off"
        case "disabled":
            return "off: every syscall reaches the kernel, only capabilities stand in the way"
                + (s.SeccompProfile == "unconfined" ? " (seccomp=unconfined or --privileged)" : "")
        default:
            return s.Seccomp
        }
    }

    func namespaceLines(_ c: Container, _ k: InspectDocument.Kernel) -> [String] {
        var lines = ["Namespaces: what it can see"]
        guard !k.Namespaces.isEmpty else {
            return lines + ["  (none: namespaces exist only while a process lives in them)"]
        }
        let meaning: [String: String] = [
            "pid": "its processes are numbered from 1; it cannot see the host's",
            "mnt": "its own mount table; its / is the overlay below",
            "uts": "its own hostname: \(c.config.hostname)",
            "ipc": "its own shared memory and message queues",
            "net": "its own network stack: only a loopback interface",
            "cgroup": "it sees its own cgroup as the root /",
            "user": c.config.usernsMap.map { "root inside is host UID \($0.uid), an unprivileged user (\(Self.userNamespaceKind($0, rootless: rootless)); maps: "
                + (k.UserNamespace?.UidMap.joined(separator: ", ") ?? "") + ")" }
                ?? "root inside is root on the host (no user namespace)",
            "time": "the host's clocks",
        ]
        for ns in k.Namespaces {
            let inode = NamespaceID(type: ns.Type, link: ns.Container).inode
            let hostInode = NamespaceID(type: ns.Type, link: ns.Host).inode
            let who = ns.Shared ? "shared with the host" : "own (host: \(hostInode))"
            lines.append("  \(pad(ns.Type, 7)) \(pad(inode, 11)) \(pad(who, 26)) \(meaning[ns.Type] ?? "")")
        }
        return lines
    }

    func cgroupLines(_ c: Container, _ k: InspectDocument.Kernel) -> [String] {
        var lines = ["cgroups (\(k.Cgroups.Version)): what it may use"]
        let l = c.config.limits
        var asked: [String] = []
        if let m = l.memoryBytes { asked.append("memory \(Time.bytes(m))") }
        if let p = l.pidsLimit { asked.append("at most \(p) processes") }
        if let n = l.nanoCpus { asked.append("\(Double(n) / 1e9) CPUs") }
        lines.append("  limits asked for: " + (asked.isEmpty ? "none (it may use the whole machine)" : asked.joined(separator: ", ")))
        guard !k.Cgroups.Directories.isEmpty else {
            return lines + ["  (no cgroup directories: they exist only while it runs)"]
        }
        for dir in k.Cgroups.Directories { lines.append("  directory: \(dir)") }
        for file in k.Cgroups.Files {
            // devices.list holds one rule a line: one line here.
            var value = file.value.split(separator: "\n").joined(separator: ", ")
            if let n = Int64(value), n > 1 << 20, file.path.contains("memory") { value += " (\(Self.memoryLimit(n)))" }
            lines.append("    \(file.path) = \(value)")
        }
        return lines
    }

    func layerLines(_ c: Container, _ k: InspectDocument.Kernel) -> [String] {
        var lines = ["Filesystem: an overlay mount is its /"]
        guard let view = try? layers(c.id) else { return lines }
        lines.append("  lower dirs: the image's layers, read-only, top first (short names in \(root.layerLinks))")
        lines.append("    0. \(root.initLayer)  (Skiff's init layer, above the image's: the empty /etc/hostname, /etc/hosts,")
        lines.append("       /etc/resolv.conf and /proc, /sys, /dev that the container's own mounts cover)")
        for lower in view.lowers {
            lines.append("    \(lower.position). \(lower.directory)  (l/\(lower.link))")
            var facts = ["layer " + (lower.digest.map { "sha256:" + $0.hex.prefix(12) } ?? "?"),
                         "diff_id " + lower.diffID.prefix(19)]
            if let size = lower.size { facts.append(Time.bytes(size)) }
            facts.append("made by: " + (lower.createdBy.map { $0.isEmpty ? "?" : $0 } ?? "? (its image is gone)"))
            lines.append("       " + facts.joined(separator: ", "))
        }
        lines.append("  upper dir: its own changes, the only writable layer: \(view.upperDir)")
        if view.changes.isEmpty {
            lines.append("    (nothing changed yet)")
        } else {
            let shown = 30
            for change in view.changes.prefix(shown) { lines.append("    \(change.kind.rawValue) \(change.path)") }
            if view.changes.count > shown { lines.append("    … and \(view.changes.count - shown) more (see: diff \(c.name))") }
            lines.append("    (A added, C changed: copied up from a lower dir before the change, D deleted: a whiteout hides the lower file)")
        }
        lines.append("  work dir (overlay's scratch space): \(view.workDir)")
        lines.append("  merged (what it sees as /): \(view.mergedDir), mounted inside its mount namespace only")
        if let o = k.Overlay {
            lines.append("  the kernel's view (/proc/\(c.state.pid)/mountinfo): overlay on / \(o.Options) \(o.SuperOptions)")
        }
        if c.config.autoRemove {
            lines.append("  --rm: once it exits, its mounts go after `run` has its exit code, and its directory is emptied for the next container")
        }
        return lines
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
}

extension Engine {
    /// The short view the tutor prints after each step: one line per kind
    /// of kernel object. `explain` has the full one.
    public func explainBrief(_ reference: String, sections: [ExplainSection] = ExplainSection.allCases) throws(SkiffError) -> String {
        let c = try container(reference)
        let k = kernelView(c)
        let short = { (path: String) in path.replacingOccurrences(of: c.id, with: c.shortID + "…") }
        var lines: [String] = []
        switch c.state.status {
        case .running: lines.append("\(c.name) (\(c.shortID)): running, PID \(c.state.pid) on the host, PID 1 inside")
        case .exited: lines.append("\(c.name) (\(c.shortID)): exited (\(c.state.exitCode)); no namespaces or cgroups left, its files remain")
        case .created: lines.append("\(c.name) (\(c.shortID)): created; nothing in the kernel yet")
        }
        if sections.contains(.namespaces), !k.Namespaces.isEmpty {
            let own = k.Namespaces.filter { !$0.Shared }.map { $0.Container }
            let shared = k.Namespaces.filter(\.Shared).map(\.Type)
            lines.append("  namespaces  own: " + own.joined(separator: " ")
                         + (shared.isEmpty ? "" : "; shared with the host: " + shared.joined(separator: ", ")))
        }
        if sections.contains(.cgroups), !k.Cgroups.Directories.isEmpty {
            let limitNames: Set<String> = ["memory.limit_in_bytes", "memory.max", "pids.max", "cpu.cfs_quota_us", "cpu.max"]
            let limits = k.Cgroups.Files.compactMap { file -> String? in
                let name = String(file.path.split(separator: "/").last ?? "")
                guard limitNames.contains(name) else { return nil }
                if let n = Int64(file.value), n > 1 << 20, name.hasPrefix("memory") { return "\(name)=\(Self.memoryLimit(n))" }
                return "\(name)=\(file.value)"
            }
            lines.append("  cgroups \(k.Cgroups.Version)  " + k.Cgroups.Directories.map(short).joined(separator: " "))
            lines.append("              " + limits.joined(separator: "  "))
        }
        if sections.contains(.layers) {
            let digests = c.config.lowerDirs.reversed().map { "sha256:" + String(($0.split(separator: "/").last ?? "").prefix(12)) }
            lines.append("  overlay     lower (read-only): " + digests.joined(separator: " ")
                         + "; upper: " + short(c.upperDir) + (k.Overlay == nil ? "" : "; mounted as its /"))
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
