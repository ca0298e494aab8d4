import Glibc
import SkiffCommon
import SkiffKernel

/// Rootless mode: skiff run by a user other than root.
///
/// The container still gets its own mount, pid, uts, ipc, net and cgroup
/// namespaces, made inside a user namespace of its own in which the user's
/// one UID and GID are root (`0 UID 1`): all an unprivileged process may
/// map without /etc/subuid and newuidmap. Image layers were unpacked by
/// that user, so inside they belong to root; what the container writes
/// lands in the upper dir as the user's files.
///
/// What it cannot do, and says so: cgroups are root's (cgroup v1 has no
/// delegation; v2 delegation is not used yet), so --memory, --pids-limit
/// and --cpus are refused, not silently dropped; the probes still need
/// root. --userns changes nothing rootless: as with Docker
/// rootless, "host" is the user's own namespace, and every container
/// has a private one inside it.
extension Engine {
    /// Checks a rootless `create` and returns its user namespace map.
    func rootlessUserNamespace(_ spec: RunSpec) throws(SkiffError) -> UserNamespaceMap {
        let limits = spec.limits
        let asked = [("--memory", limits.limitsMemory), ("--pids-limit", limits.limitsPids), ("--cpus", limits.limitsCpu)]
            .filter(\.1).map(\.0)
        if !asked.isEmpty {
            throw SkiffError(.unsupported, "cannot apply \(asked.joined(separator: ", ")) rootless: \(Self.rootlessCgroupReason) (run as root for limits)")
        }
        return UserNamespaceMap(uid: getuid(), gid: getgid(), count: 1)
    }

    /// Why rootless containers get no cgroup on this machine.
    static var rootlessCgroupReason: String {
        Files.exists("/sys/fs/cgroup/cgroup.subtree_control")
            ? "cgroup v2 delegation to users is not used by Skiff yet, so a rootless container has no cgroup"
            : "cgroup v1 does not delegate to users, so a rootless container has no cgroup"
    }
}
