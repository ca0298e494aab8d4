import CShim
import Glibc

// The container's /proc, /sys and /dev. Each is a mount tree of its own,
// made with the new mount API: a filesystem is created as a detached mount
// and put in place afterwards. That lets the early init (EarlyInit.swift)
// build all three, masks and submounts included, while it waits for its
// command line, and move each into the new root with one call once the
// overlay is mounted. Before Linux 6.15 nothing can be mounted onto a
// detached tree: there the trees are put in place in the root first and
// their submounts go on after, at start.

/// The three trees as mount descriptors (-1 where not made).
struct SpecialMounts {
    var proc: Int32 = -1
    var sys: Int32 = -1
    var dev: Int32 = -1

    func close() {
        for fd in [proc, sys, dev] where fd >= 0 { Glibc.close(fd) }
    }

    /// Whether trees staged for a default run serve this one: not
    /// --privileged (no masks, /sys writable), no user namespace (host
    /// device nodes bound instead of made).
    static func stagedFit(_ o: SpawnOptions, inUserNamespace: Bool) -> Bool {
        !o.privileged && !inUserNamespace
    }
}

/// Those of a default run, detached, built before the command line is
/// known; nil when this kernel cannot mount onto detached trees (or
/// anything else fails: the run then builds them itself and reports what).
func stageSpecialMounts() -> SpecialMounts? {
    do throws(SetupFailure) {
        return try makeSpecialMounts(privileged: false, inUserNamespace: false, rootFD: nil)
    } catch {
        return nil
    }
}

/// Puts staged trees in place under the rootfs.
func placeSpecialMounts(_ trees: SpecialMounts, rootFD: Int32) throws(SetupFailure) {
    defer { trees.close() }
    for (fd, path) in [(trees.proc, "/proc"), (trees.sys, "/sys"), (trees.dev, "/dev")] {
        try place(fd, in: rootFD, at: path)
    }
}

/// Makes the three trees. With `rootFD` each is put in place first and
/// gets its submounts there (any kernel); without, all stay detached.
func makeSpecialMounts(privileged: Bool, inUserNamespace: Bool, rootFD: Int32?) throws(SetupFailure) -> SpecialMounts {
    var trees = SpecialMounts()
    do throws(SetupFailure) {
        // Where a tree's submounts go: into the detached tree itself, or
        // under its place in the rootfs.
        func base(_ fd: Int32, _ path: String) throws(SetupFailure) -> MountBase {
            guard let rootFD else { return MountBase(dir: fd, prefix: "") }
            try place(fd, in: rootFD, at: path)
            return MountBase(dir: rootFD, prefix: path)
        }
        let noSetuidDevExec = UInt32(SKIFF_MOUNT_NOSUID | SKIFF_MOUNT_NODEV | SKIFF_MOUNT_NOEXEC)
        trees.proc = try newMount("proc", source: "proc", attributes: noSetuidDevExec)
        let proc = try base(trees.proc, "/proc")
        trees.dev = try newMount("tmpfs", source: "tmpfs", options: "mode=755,size=65536k",
                                 attributes: UInt32(SKIFF_MOUNT_NOSUID | SKIFF_MOUNT_STRICTATIME))
        try fillDev(try base(trees.dev, "/dev"), inUserNamespace: inUserNamespace)
        // Read-only, unless --privileged (as Docker does).
        trees.sys = try newMount("sysfs", source: "sysfs",
                                 attributes: noSetuidDevExec | (privileged ? 0 : UInt32(SKIFF_MOUNT_RDONLY)))
        let sys = try base(trees.sys, "/sys")
        if !privileged { try maskProcAndSys(proc: proc, sys: sys) }
    } catch {
        trees.close()
        throw error
    }
    return trees
}

/// A directory that submounts go under: `prefix` inside `dir`, resolved
/// as if `dir` were the root (so an image's symlinks cannot redirect it).
struct MountBase {
    var dir: Int32
    var prefix: String

    func path(_ name: String) -> String { prefix + "/" + name }
}

func newMount(_ type: String, source: String, options: String = "", attributes: UInt32) throws(SetupFailure) -> Int32 {
    let fd = skiff_new_mount(type, source, options, attributes)
    if fd < 0 { throw SetupFailure(code: 125, message: "mount \(type) (\(source)): \(errnoText())") }
    return fd
}

/// Puts the detached mount `fd` onto `path` in the rootfs, creating the
/// directory when it is missing.
func place(_ fd: Int32, in rootFD: Int32, at path: String) throws(SetupFailure) {
    let target = try mountPoint(rootFD, path, directory: true)
    defer { close(target.fd) }
    try check(skiff_place_mount(fd, target.fd), "mount on \(path)")
}

/// Puts the detached mount `fd` onto `name` under `base`.
func submount(_ fd: Int32, at base: MountBase, _ name: String, directory: Bool) throws(SetupFailure) {
    defer { close(fd) }
    let target = try mountPoint(base.dir, base.path(name), directory: directory)
    defer { close(target.fd) }
    try check(skiff_place_mount(fd, target.fd), "mount on \(base.prefix)/\(name)")
}

/// The harmless character devices every container gets, with their numbers.
let containerDevices: [(name: String, major: UInt32, minor: UInt32)] = [
    ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0),
]

/// A small /dev: the harmless nodes, a private devpts, shm and the stdio links.
func fillDev(_ dev: MountBase, inUserNamespace: Bool) throws(SetupFailure) {
    let devFD = try openInRoot(dev.dir, dev.prefix, SKIFF_O_PATH | O_DIRECTORY)
    defer { close(devFD) }
    for node in containerDevices {
        // Made with mknod in the new, empty tmpfs, as runc does: cheaper
        // than a bind mount each, at start and at exit. In a user namespace
        // mknod is not allowed, and the host's nodes are bound instead.
        if !inUserNamespace {
            try check(skiff_mknod_char(devFD, node.name, node.major, node.minor, 0o666), "make /dev/\(node.name)")
            continue
        }
        let host = skiff_clone_mount(AT_FDCWD, "/dev/" + node.name, 0)
        try check(host < 0 ? -1 : 0, "bind /dev/\(node.name)")
        try submount(host, at: dev, node.name, directory: false)
    }
    // Rootless without a range, GID 5 (tty) is not mapped: the terminal keeps root's group.
    let ptsOptions = "newinstance,ptmxmode=0666,mode=0620" + (rootless && !isMapped(5, in: "gid_map") ? "" : ",gid=5")
    try submount(try newMount("devpts", source: "devpts", options: ptsOptions,
                              attributes: UInt32(SKIFF_MOUNT_NOSUID | SKIFF_MOUNT_NOEXEC)),
                 at: dev, "pts", directory: true)
    try submount(try newMount("tmpfs", source: "shm", options: "mode=1777,size=65536k",
                              attributes: UInt32(SKIFF_MOUNT_NOSUID | SKIFF_MOUNT_NODEV | SKIFF_MOUNT_NOEXEC)),
                 at: dev, "shm", directory: true)
    for (name, target) in [("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                           ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")] {
        try check(symlinkat(target, devFD, name), "link /dev/\(name)")
    }
}
