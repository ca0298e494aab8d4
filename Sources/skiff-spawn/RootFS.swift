import CShim
import Glibc

// Everything the container's init does before exec, in its new mount, pid,
// uts, ipc and net namespaces. Each failing step names itself; the message
// goes back to the monitor over the sync pipe.

struct SetupFailure: Error {
    var code: Int32
    var message: String
}

func check(_ rc: Int32, _ doing: @autoclosure () -> String, code: Int32 = 125) throws(SetupFailure) {
    if rc != 0 { throw SetupFailure(code: code, message: "\(doing()): \(errnoText())") }
}

func mountFS(_ source: String, _ target: String, _ type: String?, _ flags: Int, _ data: String? = nil) throws(SetupFailure) {
    let rc: Int32
    if let data {
        rc = mount(source, target, type, UInt(flags), data)
    } else {
        rc = mount(source, target, type, UInt(flags), nil)
    }
    try check(rc, "mount \(type ?? "bind") on \(target)")
}

/// Opens a path inside the rootfs without ever leaving it (openat2 RESOLVE_IN_ROOT).
func openInRoot(_ rootFD: Int32, _ path: String, _ flags: Int32, mode: Int32 = 0) throws(SetupFailure) -> Int32 {
    let fd = skiff_open_in_root(rootFD, path, flags, mode)
    if fd < 0 { throw SetupFailure(code: 125, message: "open \(path) in the container: \(errnoText())") }
    return fd
}

func makeDirInRoot(_ rootFD: Int32, _ path: String, mode: Int32 = 0o755) throws(SetupFailure) {
    try check(skiff_mkdir_in_root(rootFD, path, mode), "create \(path) in the container")
}

/// A mount point inside the rootfs, created as a directory or an empty file,
/// returned as /proc/self/fd/N so mount(2) cannot be redirected by a symlink.
func mountPoint(_ rootFD: Int32, _ path: String, directory: Bool) throws(SetupFailure) -> (fd: Int32, path: String) {
    if directory {
        try makeDirInRoot(rootFD, path)
        let fd = try openInRoot(rootFD, path, SKIFF_O_PATH | O_DIRECTORY)
        return (fd, "/proc/self/fd/\(fd)")
    }
    let parent = path.split(separator: "/").dropLast().joined(separator: "/")
    if !parent.isEmpty { try makeDirInRoot(rootFD, parent) }
    var fd = skiff_open_in_root(rootFD, path, SKIFF_O_PATH, 0)
    if fd < 0 {
        let created = try openInRoot(rootFD, path, O_WRONLY | O_CREAT, mode: 0o644)
        close(created)
        fd = try openInRoot(rootFD, path, SKIFF_O_PATH)
    }
    return (fd, "/proc/self/fd/\(fd)")
}

func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// `idmappedLayers`: with --userns=private, the monitor's idmapped copies
/// of the layers (tree descriptors, bottom first).
/// `staged`: /proc, /sys and /dev the early init built before its command
/// arrived (SpecialMounts.swift).
func setUpRootFS(_ o: SpawnOptions, consoleSocket: Int32, idmappedLayers: [Int32]? = nil,
                 staged: SpecialMounts? = nil) throws(SetupFailure) {
    // Nothing we mount may leak back to the host.
    try mountFS("none", "/", nil, Int(MS_REC | MS_PRIVATE))
    if let idmappedLayers { try attachIdmappedLayers(o, idmappedLayers) }

    // The image layers, top first, under one writable upper dir. Their
    // short names are relative to lowerBase: the kernel resolves them
    // against our working directory (enterRootFS leaves it later).
    let lower = o.lowerDirs.reversed().joined(separator: ":")
    var options = "lowerdir=\(lower),upperdir=\(o.upperDir),workdir=\(o.workDir)"
    // In a user namespace overlay may not set trusted.* xattrs: it marks
    // opaque directories and redirects with user.overlay.* instead.
    if idmappedLayers != nil || rootless { options += ",userxattr" }
    let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    if options.utf8.count >= pageSize {
        throw SetupFailure(code: 125, message: "the image's layers and the init layer make \(o.lowerDirs.count) lower dirs: their overlay options (\(options.utf8.count) bytes) exceed the kernel's limit of \(pageSize - 1); squash some layers")
    }
    if !o.lowerBase.isEmpty { try check(chdir(o.lowerBase), "chdir to \(o.lowerBase)") }
    // Unmounting an overlay syncs the whole upper file system (4 to 14 ms
    // measured here). When the monitor holds the mounts until it has
    // reported the exit (`holdsMounts`), that happens in the background.
    // Otherwise an --rm container, whose upper dir is deleted anyway, is
    // mounted `volatile` (Linux 5.10), which skips the sync; not always,
    // because a volatile mount makes two more inodes (its marker), each a
    // walk past recently freed inodes on a journal-less ext4.
    if o.removeOnExit && !holdsMounts(o) && mount("overlay", o.rootfs, "overlay", 0, options + ",volatile") == 0 {
        // mounted
    } else {
        try mountFS("overlay", o.rootfs, "overlay", 0, options)
    }

    let rootFD = open(o.rootfs, SKIFF_O_PATH | O_DIRECTORY | O_CLOEXEC)
    try check(rootFD < 0 ? -1 : 0, "open \(o.rootfs)")

    let inUserNamespace = idmappedLayers != nil || rootless
    if let staged, SpecialMounts.stagedFit(o, inUserNamespace: inUserNamespace) {
        try placeSpecialMounts(staged, rootFD: rootFD)
    } else {
        staged?.close()
        try makeSpecialMounts(privileged: o.privileged, inUserNamespace: inUserNamespace, rootFD: rootFD).close()
    }
    if consoleSocket >= 0 { try setUpTerminal(rootFD, o, socket: consoleSocket) }

    for bind in o.binds {
        let target = try mountPoint(rootFD, bind.target, directory: isDirectory(bind.source))
        try mountFS(bind.source, target.path, nil, Int(MS_BIND | MS_REC))
        close(target.fd)
        if bind.readOnly {
            // Reopen: the old fd names the directory under the new mount.
            let mounted = try openInRoot(rootFD, bind.target, SKIFF_O_PATH)
            try mountFS("none", "/proc/self/fd/\(mounted)", nil, Int(MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC))
            close(mounted)
        }
    }
    if o.readOnlyRootfs {
        // Only the root mount: /dev, /proc, the /etc files and -v binds keep their own flags.
        try mountFS("none", o.rootfs, nil, Int(MS_BIND | MS_REMOUNT | MS_RDONLY))
    }
    close(rootFD)
}

/// The container's terminal, as runc makes it: a pty pair from the
/// container's own devpts (so `tty` says /dev/pts/0), the slave on fds 0-2
/// and bound on /dev/console, the master sent down `socket` to whoever
/// copies the terminal (the CLI for a foreground -t, our monitor for -d -t).
func setUpTerminal(_ rootFD: Int32, _ o: SpawnOptions, socket: Int32) throws(SetupFailure) {
    let ptmx = try openInRoot(rootFD, "/dev/pts/ptmx", SKIFF_O_PATH)
    var slave: Int32 = -1
    var number: Int32 = 0
    let master = skiff_open_pty_at("/proc/self/fd/\(ptmx)", &slave, &number)
    close(ptmx)
    try check(master < 0 ? -1 : 0, "open a terminal in the container's /dev/pts")
    defer { close(master) }
    skiff_set_winsize(master, o.ttyRows, o.ttyCols)
    let console = try mountPoint(rootFD, "/dev/console", directory: false)
    try mountFS("/proc/self/fd/\(slave)", console.path, nil, Int(MS_BIND))
    close(console.fd)
    var fds = [master]
    try check(skiff_send_fds(socket, &fds, 1) < 0 ? -1 : 0, "hand the terminal over")
    close(socket)
    for fd: Int32 in 0...2 { dup2(slave, fd) }
    if slave > 2 { close(slave) }
}

/// pivot_root into the rootfs and drop the old root: afterwards the host's
/// filesystem is simply not reachable from this mount namespace.
func enterRootFS(_ rootfs: String) throws(SetupFailure) {
    try check(chdir(rootfs), "chdir to \(rootfs)")
    try check(skiff_pivot_root(".", "."), "pivot_root to \(rootfs)")
    try check(umount2(".", Int32(MNT_DETACH)), "detach the old root")
    try check(chdir("/"), "chdir to /")
}
