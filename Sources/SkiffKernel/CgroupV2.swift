#if canImport(Glibc)
import Glibc
#endif
import SkiffCommon

/// cgroup v2: one unified tree. A container's cgroup is `root/<name>`; every
/// level above it delegates the memory, pids and cpu controllers to its children
/// through `cgroup.subtree_control`.
public struct CgroupV2Driver: CgroupDriver {
    /// The controllers Skiff enables, in this order.
    public static let controllers = ["memory", "pids", "cpu"]

    /// Mountpoint of the cgroup2 filesystem, normally /sys/fs/cgroup.
    public let root: String
    let fs: CgroupFS

    public init(root: String = "/sys/fs/cgroup", fs: CgroupFS = .real) {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
        self.fs = fs
    }

    public var version: CgroupVersion { .v2 }

    /// Controllers the root offers (its cgroup.controllers) that Skiff uses.
    public var availableControllers: [String] {
        let offered = Self.words(CgroupOps.read(root + "/cgroup.controllers", fs: fs) ?? "")
        return Self.controllers.filter { offered.contains($0) }
    }

    public func directory(for name: String) -> String { CgroupPaths.join(root, name) }

    public func directories(for name: String) -> [String] { [directory(for: name)] }

    public func procsFiles(for name: String) -> [String] { [directory(for: name) + "/cgroup.procs"] }

    /// cgroup.threads moves single threads only within a threaded subtree.
    public func selfJoinFiles(for name: String) -> [String]? { nil }

    public func create(name: String, limits: ResourceLimits) throws(SkiffError) {
        try CgroupPaths.validate(name)
        try limits.validate()
        let offered = availableControllers
        var needed: [String] = []
        for (controller, wanted, flag) in [("memory", limits.limitsMemory, "--memory"),
                                           ("pids", limits.limitsPids, "--pids-limit"),
                                           ("cpu", limits.limitsCpu, "--cpus")] where wanted {
            needed.append(controller)
            if !offered.contains(controller) {
                throw SkiffError(.unsupported,
                    "cannot apply \(flag): the \(controller) controller is not listed in \(root)/cgroup.controllers; "
                    + "fix: make sure no cgroup v1 hierarchy holds it (boot with systemd.unified_cgroup_hierarchy=1) "
                    + "or ask the parent cgroup to delegate it")
            }
        }

        var created: [String] = []
        do throws(SkiffError) {
            created = try CgroupOps.makeTree(base: root, name: name, fs: fs) { (dir: String) throws(SkiffError) in
                try enableControllers(offered, in: dir, needed: needed)
            }
            try writeLimits(dir: directory(for: name), limits: limits)
            // v2 has no devices files: a BPF program holds the allow-list.
            if limits.allowAllDevices != true, let error = fs.attachDeviceRules(directory(for: name), DeviceRules.allowed) {
                throw error
            }
        } catch {
            CgroupOps.rollback(created: created, parents: CgroupPaths.sharedParents(base: root, name: name), fs: fs)
            throw error
        }
    }

    /// Writes "+controller" to `dir/cgroup.subtree_control` for each controller
    /// not yet enabled there, one at a time so that one refusal (e.g. +cpu while
    /// realtime threads exist) does not block the others. A refusal only fails
    /// the create when that controller's limit was asked for.
    private func enableControllers(_ controllers: [String], in dir: String, needed: [String]) throws(SkiffError) {
        let file = dir + "/cgroup.subtree_control"
        guard let current = CgroupOps.read(file, fs: fs) else {
            throw SkiffError.system("read \(file)", errno: fs.fileExists(dir) ? EIO : ENOENT)
        }
        let enabled = Self.words(current)
        let available = dir == root ? controllers
            : Self.words(CgroupOps.read(dir + "/cgroup.controllers", fs: fs) ?? "")
        for controller in controllers where !enabled.contains(controller) && available.contains(controller) {
            let code = fs.writeFile(file, "+" + controller)
            if code == 0 || !needed.contains(controller) { continue }
            var error = SkiffError.system("write +\(controller) to \(file)", errno: code)
            if code == EBUSY {
                error.message += " (this cgroup holds processes itself, so it cannot delegate controllers: "
                    + "inside a container, move its processes into a child cgroup first)"
            }
            throw error
        }
        if dir != root {
            // A level below the root that lacks a needed controller cannot pass it on.
            let after = Self.words(CgroupOps.read(file, fs: fs) ?? "")
            if let missing = needed.first(where: { !after.contains($0) }) {
                throw SkiffError(.unsupported,
                    "cannot enable the \(missing) controller in \(file): \(dir)/cgroup.controllers does not offer it")
            }
        }
    }

    private func writeLimits(dir: String, limits: ResourceLimits) throws(SkiffError) {
        if let memory = limits.memoryBytes, memory > 0 {
            try CgroupOps.write(String(memory), to: dir + "/memory.max", fs: fs)
            // No swap on top of the limit: otherwise the container swaps instead of hitting it.
            let swap = dir + "/memory.swap.max"
            if fs.fileExists(swap) {
                try CgroupOps.write("0", to: swap, fs: fs)
            }
        }
        if let pids = limits.pidsLimit {
            try CgroupOps.write(pids > 0 ? String(pids) : "max", to: dir + "/pids.max", fs: fs)
        }
        if let nano = limits.nanoCpus, nano > 0 {
            let quota = ResourceLimits.cpuQuotaMicroseconds(nanoCpus: nano)
            try CgroupOps.write("\(quota) \(ResourceLimits.cpuPeriodMicroseconds)", to: dir + "/cpu.max", fs: fs)
        }
    }

    public func remove(name: String) throws(SkiffError) {
        try CgroupPaths.validate(name)
        try CgroupOps.removeAll(leaves: directories(for: name),
                                parents: CgroupPaths.sharedParents(base: root, name: name), fs: fs)
    }

    public func limitFiles(for name: String) -> [CgroupFileValue] {
        let dir = directory(for: name)
        let files = ["memory.max", "memory.swap.max", "memory.current", "pids.max", "pids.current", "cpu.max"]
        return files.compactMap { file in
            let path = dir + "/" + file
            return CgroupOps.read(path, fs: fs).map { CgroupFileValue(path: path, value: $0) }
        }
    }

    public func oomEventsFile(for name: String) -> String? {
        directory(for: name) + "/memory.events"
    }

    public func oomKills(for name: String) -> Int? {
        guard let file = oomEventsFile(for: name), let text = fs.readFile(file) else { return nil }
        return CgroupOps.keyedValue("oom_kill", in: text)
    }

    static func words(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }
}
