#if canImport(Glibc)
import Glibc
#endif
import SkiffCommon

/// cgroup v1: one hierarchy per controller (or per group of controllers, like
/// "cpu,cpuacct"), each its own mount. A container's cgroup is a directory of
/// the same name in the memory, pids, cpu and devices hierarchies.
public struct CgroupV1Driver: CgroupDriver {
    /// The controllers Skiff uses, in the order it creates them.
    public static let controllers = ["memory", "pids", "cpu", "devices"]

    /// Controller → mountpoint of its hierarchy, for the controllers that are
    /// mounted ("cpu" → "/sys/fs/cgroup/cpu,cpuacct" when they share one).
    public let mountpoints: [String: String]
    let fs: CgroupFS

    public init(mountpoints: [String: String], fs: CgroupFS = .real) {
        self.mountpoints = mountpoints.filter { Self.controllers.contains($0.key) }
        self.fs = fs
    }

    public var version: CgroupVersion { .v1 }

    public var availableControllers: [String] {
        Self.controllers.filter { mountpoints[$0] != nil }
    }

    /// The directory of `name` in `controller`'s hierarchy, nil when it is not mounted.
    public func directory(for name: String, controller: String) -> String? {
        mountpoints[controller].map { CgroupPaths.join($0, name) }
    }

    public func directories(for name: String) -> [String] {
        var result: [String] = []
        for controller in Self.controllers {
            if let dir = directory(for: name, controller: controller), !result.contains(dir) {
                result.append(dir)
            }
        }
        return result
    }

    public func procsFiles(for name: String) -> [String] {
        directories(for: name).map { $0 + "/cgroup.procs" }
    }

    public func selfJoinFiles(for name: String) -> [String]? {
        directories(for: name).map { $0 + "/tasks" }
    }

    public func create(name: String, limits: ResourceLimits) throws(SkiffError) {
        try CgroupPaths.validate(name)
        try limits.validate()
        for (controller, wanted, flag) in [("memory", limits.limitsMemory, "--memory"),
                                           ("pids", limits.limitsPids, "--pids-limit"),
                                           ("cpu", limits.limitsCpu, "--cpus")]
        where wanted && mountpoints[controller] == nil {
            throw SkiffError(.unsupported,
                "cannot apply \(flag): the cgroup v1 \(controller) controller is not mounted; "
                + "fix: mkdir -p /sys/fs/cgroup/\(controller) && mount -t cgroup -o \(controller) cgroup /sys/fs/cgroup/\(controller)")
        }

        var created: [String] = []
        var bases: [String] = []
        do {
            for controller in Self.controllers {
                guard let base = mountpoints[controller], !bases.contains(base) else { continue }
                bases.append(base)
                created += try CgroupOps.makeTree(base: base, name: name, fs: fs) { (_: String) throws(SkiffError) in }
            }
            try writeLimits(name: name, limits: limits)
            try writeDeviceRules(name: name, limits: limits)
        } catch {
            CgroupOps.rollback(created: created, parents: parentDirectories(for: name), fs: fs)
            throw error
        }
    }

    private func writeLimits(name: String, limits: ResourceLimits) throws(SkiffError) {
        if let memory = limits.memoryBytes, memory > 0, let dir = directory(for: name, controller: "memory") {
            try CgroupOps.write(String(memory), to: dir + "/memory.limit_in_bytes", fs: fs)
            // memory+swap, only present with swap accounting: the same value
            // so that swapping cannot dodge the limit. Written after
            // limit_in_bytes because the kernel wants memsw >= limit.
            let memsw = dir + "/memory.memsw.limit_in_bytes"
            if fs.fileExists(memsw) {
                try CgroupOps.write(String(memory), to: memsw, fs: fs)
            }
        }
        if let pids = limits.pidsLimit, let dir = directory(for: name, controller: "pids") {
            try CgroupOps.write(pids > 0 ? String(pids) : "max", to: dir + "/pids.max", fs: fs)
        }
        if let nano = limits.nanoCpus, nano > 0, let dir = directory(for: name, controller: "cpu") {
            try CgroupOps.write(String(ResourceLimits.cpuPeriodMicroseconds), to: dir + "/cpu.cfs_period_us", fs: fs)
            try CgroupOps.write(String(ResourceLimits.cpuQuotaMicroseconds(nanoCpus: nano)), to: dir + "/cpu.cfs_quota_us", fs: fs)
        }
    }

    /// Deny every device, then allow Docker's short list (`DeviceRules`).
    /// --privileged keeps what the parent allows (everything). Without a
    /// devices hierarchy the container keeps the host's device access and
    /// only its small /dev (and CAP_MKNOD's lack of a node to open) guard it.
    private func writeDeviceRules(name: String, limits: ResourceLimits) throws(SkiffError) {
        guard let dir = directory(for: name, controller: "devices"), limits.allowAllDevices != true else { return }
        try CgroupOps.write("a", to: dir + "/devices.deny", fs: fs)
        let code = fs.write(each: DeviceRules.allowed, to: dir + "/devices.allow")
        if code != 0 { throw SkiffError.system("write the device rules to \(dir)/devices.allow", errno: code) }
    }

    private func parentDirectories(for name: String) -> [String] {
        var result: [String] = []
        for base in Set(mountpoints.values).sorted() {
            result += CgroupPaths.sharedParents(base: base, name: name)
        }
        // Deepest first across hierarchies too.
        return result.sorted { $0.count > $1.count }
    }

    public func remove(name: String) throws(SkiffError) {
        try CgroupPaths.validate(name)
        try CgroupOps.removeAll(leaves: directories(for: name), parents: parentDirectories(for: name), fs: fs)
    }

    public func limitFiles(for name: String) -> [CgroupFileValue] {
        let wanted: [(String, [String])] = [
            ("memory", ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.usage_in_bytes"]),
            ("pids", ["pids.max", "pids.current"]),
            ("cpu", ["cpu.cfs_quota_us", "cpu.cfs_period_us"]),
            ("devices", ["devices.list"]),
        ]
        var result: [CgroupFileValue] = []
        for (controller, files) in wanted {
            guard let dir = directory(for: name, controller: controller) else { continue }
            for file in files {
                let path = dir + "/" + file
                if let value = CgroupOps.read(path, fs: fs) {
                    result.append(CgroupFileValue(path: path, value: value))
                }
            }
        }
        return result
    }

    public func oomEventsFile(for name: String) -> String? {
        directory(for: name, controller: "memory").map { $0 + "/memory.oom_control" }
    }

    public func oomKills(for name: String) -> Int? {
        guard let file = oomEventsFile(for: name), let text = fs.readFile(file) else { return nil }
        return CgroupOps.keyedValue("oom_kill", in: text)
    }
}
