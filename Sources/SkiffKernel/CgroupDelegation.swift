#if canImport(Glibc)
import Glibc
#endif
import SkiffCommon

/// cgroup v2 delegation: the part of the unified tree a plain user may
/// manage. systemd delegates `user@UID.service` to its user by handing
/// over the directory and its cgroup.procs, cgroup.subtree_control and
/// cgroup.threads; inside it the user may make child cgroups, move its own
/// processes between them (it may write the cgroup.procs of their common
/// ancestor) and enable the controllers the subtree's cgroup.controllers
/// lists. Rootless containers put their cgroups there (Engine+Rootless.swift).
public enum CgroupDelegation {
    /// The files a delegated cgroup's user must own besides the directory.
    public static let delegatedFiles = ["cgroup.procs", "cgroup.subtree_control"]

    /// Our cgroup in the unified hierarchy: the path of the "0::" line of a
    /// /proc/self/cgroup text ("" for the root), nil without one.
    public static func ownPath(procSelfCgroup text: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix("0::") {
            let path = String(line.dropFirst(3))
            return path == "/" ? "" : path
        }
        return nil
    }

    /// The highest cgroup delegated to `uid` that holds `ownPath` (a path
    /// below the cgroup2 mount `mount`): walks up from our own cgroup while
    /// the directory and its `delegatedFiles` are the user's. nil when our
    /// own cgroup is not.
    public static func delegatedSubtree(mount: String, ownPath: String, uid: UInt32, fs: CgroupFS = .real) -> String? {
        let mount = mount.count > 1 && mount.hasSuffix("/") ? String(mount.dropLast()) : mount
        func isDelegated(_ dir: String) -> Bool {
            fs.owner(dir) == uid && delegatedFiles.allSatisfy { fs.owner(dir + "/" + $0) == uid }
        }
        var parts = ownPath.split(separator: "/").map(String.init)
        if parts.contains("..") || parts.contains(".") { return nil }
        var found: String? = nil
        while true {
            let dir = parts.isEmpty ? mount : mount + "/" + parts.joined(separator: "/")
            guard isDelegated(dir) else { break }
            found = dir
            if parts.isEmpty { break }
            parts.removeLast()
        }
        return found
    }
}
