#if canImport(Glibc)
import Glibc
#endif
import SkiffCommon

/// Picks the cgroup driver for this machine.
public enum Cgroups {
    /// Picks the driver from a mountinfo text (`/proc/self/mountinfo`):
    /// - cgroup v2 when the filesystem mounted at `root` is cgroup2 (a pure v2
    ///   machine, like most systemd laptops);
    /// - otherwise cgroup v1 with the memory, pids and cpu hierarchies listed in
    ///   mountinfo (controllers from the super options, "rw,cpu,cpuacct");
    ///   a hybrid cgroup2 at `root`/unified without controllers is ignored;
    /// - otherwise a cgroup2 mounted elsewhere whose cgroup.controllers is not empty.
    /// Throws `.unsupported` with a fix when nothing usable is mounted.
    public static func detect(mountinfo: String, root: String = "/sys/fs/cgroup", fs: CgroupFS = .real) throws(SkiffError) -> any CgroupDriver {
        let root = normalize(root)
        let mounts = parseMountinfo(mountinfo, keeping: root)

        // Later mounts hide earlier ones on the same mountpoint.
        if let top = mounts.last(where: { $0.mountpoint == root }), top.fstype == "cgroup2" {
            return CgroupV2Driver(root: root, fs: fs)
        }

        var mountpoints: [String: String] = [:]
        for controller in CgroupV1Driver.controllers {
            let candidates = mounts.filter { $0.fstype == "cgroup" && $0.controllers.contains(controller) }
            let preferred = candidates.first { $0.mountpoint.hasPrefix(root + "/") } ?? candidates.first
            if let preferred { mountpoints[controller] = preferred.mountpoint }
        }
        if !mountpoints.isEmpty {
            return CgroupV1Driver(mountpoints: mountpoints, fs: fs)
        }

        for mount in mounts where mount.fstype == "cgroup2" {
            let driver = CgroupV2Driver(root: mount.mountpoint, fs: fs)
            if !driver.availableControllers.isEmpty { return driver }
        }

        throw SkiffError(.unsupported,
            "no usable cgroup filesystem: \(root) is not cgroup2 and no cgroup v1 memory, pids or cpu hierarchy is mounted; "
            + "fix: mount -t cgroup2 none \(root) (in a container: give it the host's cgroups, e.g. docker run --privileged --cgroupns=host)")
    }

    /// Reads /proc/self/mountinfo and picks the driver for this machine.
    public static func detect() throws(SkiffError) -> any CgroupDriver {
        guard let text = try Files.readString("/proc/self/mountinfo") else {
            throw SkiffError(.unsupported, "cannot read /proc/self/mountinfo: is /proc mounted? fix: mount -t proc proc /proc")
        }
        return try detect(mountinfo: text)
    }

    // MARK: mountinfo

    struct Mount: Equatable {
        var mountpoint: String
        var fstype: String
        /// Controller names from the super options: "rw,cpu,cpuacct" gives
        /// ["cpu", "cpuacct"]; flags and key=value options (name=systemd) are dropped.
        var controllers: [String]
    }

    private static let nonControllerOptions: Set<String> = [
        "rw", "ro", "noprefix", "clone_children", "xattr", "cpuset_v2_mode",
        "nsdelegate", "favordynmods", "memory_localevents", "memory_recursiveprot",
        "memory_hugetlb_accounting", "pids_localevents",
    ]

    /// The mounts of a mountinfo text (all of them: a later tmpfs can hide a
    /// cgroup2 on the same mountpoint). A line is
    /// "id parent major:minor root mountpoint options [optional...] - fstype source superoptions".
    /// Only cgroup mounts and what is mounted on `root` matter: the other
    /// lines (dozens on a desktop) are skipped before the full parse.
    static func parseMountinfo(_ text: String, keeping root: String? = nil) -> [Mount] {
        let cgroup = "cgroup".utf8
        let rootBytes = (root ?? "").utf8
        let mounts = MountInfo.parse(text) { fsType, mountPoint in
            fsType.starts(with: cgroup) || (root != nil && mountPoint.elementsEqual(rootBytes))
        }
        return mounts.map { mount in
            let controllers = mount.superOptions.split(separator: ",").map(String.init).filter {
                !$0.contains("=") && !nonControllerOptions.contains($0)
            }
            return Mount(mountpoint: normalize(mount.mountPoint), fstype: mount.fsType,
                         controllers: mount.fsType == "cgroup" ? controllers : [])
        }
    }

    private static func normalize(_ path: String) -> String {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }
}
