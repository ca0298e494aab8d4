import Glibc
import SkiffCommon
import SkiffKernel

/// The cgroup driver of a rootless engine (Engine+Rootless.swift): the
/// container's cgroup goes under the cgroup v2 subtree delegated to the
/// user, `SUBTREE/skiff/ID`, or nowhere when there is none (cgroup v1 has
/// no delegation; a v2 machine without systemd's user@UID.service may not
/// give the user one). No device program is attached: loading one needs
/// CAP_SYS_ADMIN, and a rootless container cannot open host devices it
/// was not given anyway.
struct RootlessCgroups: CgroupDriver {
    /// The delegated subtree as a v2 driver rooted there, nil without one.
    let subtree: CgroupV2Driver?
    /// The machine's cgroup version, for a rootless container without cgroup.
    let machineVersion: CgroupVersion
    /// Why there is no subtree (empty with one).
    let reason: String

    var version: CgroupVersion { subtree == nil ? machineVersion : .v2 }

    func directories(for name: String) -> [String] { subtree?.directories(for: name) ?? [] }

    func create(name: String, limits: ResourceLimits) throws(SkiffError) {
        var limits = limits
        limits.allowAllDevices = true
        try subtree?.create(name: name, limits: limits)
    }

    func procsFiles(for name: String) -> [String] { subtree?.procsFiles(for: name) ?? [] }

    func selfJoinFiles(for name: String) -> [String]? { subtree?.selfJoinFiles(for: name) }

    func remove(name: String) throws(SkiffError) { try subtree?.remove(name: name) }

    func limitFiles(for name: String) -> [CgroupFileValue] { subtree?.limitFiles(for: name) ?? [] }

    func oomKills(for name: String) -> Int? { subtree?.oomKills(for: name) }

    func oomEventsFile(for name: String) -> String? { subtree?.oomEventsFile(for: name) }

    var availableControllers: [String] { subtree?.availableControllers ?? [] }

    /// Why `limits` cannot be applied rootless, nil when they can: no
    /// subtree, or one whose cgroup.controllers lacks a controller asked for.
    func refusal(_ limits: ResourceLimits) -> SkiffError? {
        let asked = [("--memory", limits.limitsMemory, "memory"), ("--pids-limit", limits.limitsPids, "pids"),
                     ("--cpus", limits.limitsCpu, "cpu")].filter(\.1)
        guard !asked.isEmpty else { return nil }
        guard let subtree else {
            return SkiffError(.unsupported, "cannot apply \(asked.map(\.0).joined(separator: ", ")) rootless: \(reason) (run as root for limits)")
        }
        let offered = subtree.availableControllers
        guard let (flag, _, controller) = asked.first(where: { !offered.contains($0.2) }) else { return nil }
        return SkiffError(.unsupported, "cannot apply \(flag) rootless: the \(controller) controller is not delegated to you "
            + "(\(subtree.root)/cgroup.controllers offers \(offered.isEmpty ? "none of memory, pids, cpu" : offered.joined(separator: " "))); "
            + "fix: have systemd delegate it (Delegate=\(controller) in user@.service) or run as root")
    }

    /// Test-only: the cgroup2 mount to look for a delegated subtree in when
    /// /sys/fs/cgroup is not one (the hybrid test machines' controller-less
    /// /sys/fs/cgroup/unified, which the root driver ignores).
    static let mountOverride = "SKIFF_TEST_ROOTLESS_CGROUP2"

    /// Finds the subtree: our own cgroup (/proc/self/cgroup) and its
    /// ancestors that are the user's (`CgroupDelegation`).
    static func forThisProcess() throws(SkiffError) -> RootlessCgroups {
        let detected = try Cgroups.detect()
        let override = getenv(mountOverride).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        guard let mount = override ?? (detected as? CgroupV2Driver)?.root else {
            return RootlessCgroups(subtree: nil, machineVersion: detected.version,
                                   reason: "cgroup v1 does not delegate to users, so a rootless container has no cgroup")
        }
        guard let text = (try? Files.readString("/proc/self/cgroup")) ?? nil,
              let own = CgroupDelegation.ownPath(procSelfCgroup: text) else {
            return RootlessCgroups(subtree: nil, machineVersion: detected.version,
                                   reason: "/proc/self/cgroup names no cgroup v2 path, so a rootless container has no cgroup")
        }
        guard let dir = CgroupDelegation.delegatedSubtree(mount: mount, ownPath: own, uid: getuid()) else {
            return RootlessCgroups(subtree: nil, machineVersion: detected.version,
                                   reason: "your cgroup \(mount + own) is not delegated to you (systemd delegates user@\(getuid()).service "
                                       + "to a user logged in through logind), so a rootless container has no cgroup")
        }
        return RootlessCgroups(subtree: CgroupV2Driver(root: dir), machineVersion: .v2, reason: "")
    }
}
