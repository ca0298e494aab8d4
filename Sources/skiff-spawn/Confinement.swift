import CShim
import Glibc
import SkiffCommon

// What keeps a root process inside its namespaces from reaching the host:
// the parts Docker applies by default.

/// Docker's default capability set: CHOWN, DAC_OVERRIDE, FOWNER, FSETID,
/// KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT,
/// MKNOD, AUDIT_WRITE, SETFCAP. Everything else (SYS_ADMIN for mount,
/// SYS_MODULE, SYS_TIME, SYS_BOOT, SYS_PTRACE, ...) is dropped.
let defaultCapabilities: UInt64 = [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31]
    .reduce(0) { $0 | (UInt64(1) << UInt64($1)) }

/// Files and directories of /proc and /sys that tell too much about the
/// host or let a process act on it: hidden (Docker's list).
let maskedPaths = ["/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
                   "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                   "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"]

/// Readable, never writable from inside.
let readOnlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

/// Over each masked file /dev/null, over each masked directory an empty
/// read-only tmpfs; each read-only path bound onto itself read-only.
/// Paths the kernel does not have are skipped.
func maskProcAndSys(proc: MountBase, sys: MountBase) throws(SetupFailure) {
    func locate(_ path: String) -> (base: MountBase, name: String) {
        path.hasPrefix("/proc/") ? (proc, String(path.dropFirst(6))) : (sys, String(path.dropFirst(5)))
    }
    for path in maskedPaths {
        let (base, name) = locate(path)
        let fd = skiff_open_in_root(base.dir, base.path(name), SKIFF_O_PATH, 0)
        if fd < 0 { continue }
        defer { close(fd) }
        let mask = isDirectory("/proc/self/fd/\(fd)")
            ? try newMount("tmpfs", source: "tmpfs", options: "size=0",
                           attributes: UInt32(SKIFF_MOUNT_RDONLY | SKIFF_MOUNT_NOSUID | SKIFF_MOUNT_NODEV | SKIFF_MOUNT_NOEXEC))
            : skiff_clone_mount(AT_FDCWD, "/dev/null", 0)
        try check(mask < 0 ? -1 : 0, "mask \(path)")
        defer { close(mask) }
        try check(skiff_place_mount(mask, fd), "mask \(path)")
    }
    for path in readOnlyPaths {
        let (base, name) = locate(path)
        let fd = skiff_open_in_root(base.dir, base.path(name), SKIFF_O_PATH, 0)
        if fd < 0 { continue }
        defer { close(fd) }
        // The container's own entry, copied read-only and put over itself.
        var copy = skiff_clone_mount(fd, "", UInt32(SKIFF_MOUNT_RDONLY | SKIFF_MOUNT_NOSUID | SKIFF_MOUNT_NODEV | SKIFF_MOUNT_NOEXEC))
        // Before Linux 5.12 (no mount_setattr) the copy goes on as it is
        // and is remounted read-only in place (the trees are in place
        // there: nothing mounts onto a detached tree before 6.15).
        let remount = copy < 0 && errno == ENOSYS
        if remount { copy = skiff_clone_mount(fd, "", 0) }
        try check(copy < 0 ? -1 : 0, "bind \(path) read-only")
        defer { close(copy) }
        try check(skiff_place_mount(copy, fd), "bind \(path) read-only")
        if remount {
            // Reopen: the old fd names the directory under the new mount.
            let mounted = try openInRoot(base.dir, base.path(name), SKIFF_O_PATH)
            defer { close(mounted) }
            try mountFS("none", "/proc/self/fd/\(mounted)", nil,
                        Int(MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_REC))
        }
    }
}

/// The last steps, in the container's init and in every exec'd process,
/// in the order the kernel needs: rlimits while we may still set them; the
/// user switch while we hold CAP_SETUID (keeping caps across it);
/// no_new_privs; the capability sets; then, inside `execCommand`, the
/// seccomp filter right before execve (loading it needs no_new_privs or
/// CAP_SYS_ADMIN, and every call after it must pass it).
func confineAndExec(_ o: SpawnOptions, filter: [UInt8]?) throws(SetupFailure) -> Never {
    for limit in o.rlimits {
        try check(skiff_set_rlimit(limit.resource, limit.soft, limit.hard), "set ulimit \(limit.name)=\(limit.soft):\(limit.hard)")
    }
    // Always, root included: the groups of whoever ran skiff must not leak
    // in; root gets the groups /etc/group lists it in, like any user.
    let root = open("/", SKIFF_O_PATH | O_DIRECTORY | O_CLOEXEC)
    try check(root < 0 ? -1 : 0, "open /")
    let user: ResolvedUser
    do { user = try resolveUser(o.user.isEmpty ? "0" : o.user, extraGroups: o.groupAdd, rootFD: root) } catch { close(root); throw error }
    close(root)
    try switchUser(user)
    Trace.mark("user switched")
    var env = o.env
    // Like runc: HOME from the user's passwd entry when nobody set one.
    if !env.contains(where: { $0.hasPrefix("HOME=") }) { env.append("HOME=" + user.home) }
    var lastFilter = filter
    if o.allowNewPrivileges, let early = filter {
        // Without no_new_privs only CAP_SYS_ADMIN may load a filter: load it
        // while we still hold every capability (runc does the same).
        try loadSeccomp(early)
        lastFilter = nil
    }
    if !o.allowNewPrivileges { try check(skiff_set_no_new_privs(), "set no_new_privs") }
    try check(skiff_limit_capabilities(o.capabilities), "limit capabilities")
    try execCommand(o.command, env: env, seccompFilter: lastFilter)
}

func loadSeccomp(_ filter: [UInt8]) throws(SetupFailure) {
    let rc = filter.withUnsafeBytes { skiff_load_seccomp($0.baseAddress, $0.count) }
    try check(rc, "load the seccomp filter")
}

/// The compiled filter, read in the parent before any fork: the child only
/// hands the bytes to the kernel.
func readSeccompFilter(_ o: SpawnOptions) -> [UInt8]? {
    do throws(SetupFailure) {
        return try loadSeccompFilter(o)
    } catch {
        fail(error.code, error.message)
    }
}

/// The same for a process that reports its failures over a sync pipe (an
/// early init, EarlyInit.swift).
func loadSeccompFilter(_ o: SpawnOptions) throws(SetupFailure) -> [UInt8]? {
    guard !o.seccompFile.isEmpty else { return nil }
    let fd = open(o.seccompFile, O_RDONLY | O_CLOEXEC)
    if fd < 0 { throw SetupFailure(code: 125, message: "read seccomp filter \(o.seccompFile): \(errnoText())") }
    defer { close(fd) }
    let bytes = readAll(fd)
    if bytes.isEmpty || bytes.count % 8 != 0 {
        throw SetupFailure(code: 125, message: "seccomp filter \(o.seccompFile) is not a BPF program")
    }
    return bytes
}
