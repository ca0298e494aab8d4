import FoundationEssentials
import SkiffCommon
import SkiffKernel

/// `skiff explain`: the same facts as `inspect`'s Kernel object, in plain
/// words for a learner. The tutor shows these views after each step.
public enum ExplainSection: String, CaseIterable, Sendable {
    case namespaces = "ns", cgroups, layers
}

extension Engine {
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
        return out.joined(separator: "\n")
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
            "user": "root inside is root on the host (no user namespace)",
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
            var value = file.value
            if let n = Int64(value), n > 1 << 20, file.path.contains("memory") { value += " (\(Time.bytes(n)))" }
            lines.append("    \(file.path) = \(value)")
        }
        return lines
    }

    func layerLines(_ c: Container, _ k: InspectDocument.Kernel) -> [String] {
        var lines = ["Filesystem: an overlay mount is its /"]
        for (index, dir) in c.config.lowerDirs.enumerated().reversed() {
            let digest = "sha256:" + String(dir.split(separator: "/").last ?? "").prefix(12)
            lines.append("  lower \(index + 1) (image layer, read-only): \(dir)  [\(digest)]")
        }
        lines.append("  upper (its own changes):        \(c.upperDir)")
        lines.append("  work (overlay's scratch space): \(c.workDir)")
        lines.append("  merged (what it sees as /):     \(c.mergedDir), mounted inside its mount namespace only")
        if let o = k.Overlay {
            lines.append("  the kernel's view (/proc/\(c.state.pid)/mountinfo): overlay on / \(o.Options) \(o.SuperOptions)")
        }
        return lines
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
}
