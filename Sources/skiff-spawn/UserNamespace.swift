import CShim
import Glibc
import SkiffCommon

// --userns=private: the container's init is cloned into a new user
// namespace too. Its root is host UID `map.uid` (an unprivileged range).
//
// Who does what, and why in this order:
//  - the helper clones the init with CLONE_NEWUSER beside the other
//    namespaces, so the new user namespace owns them (mount, net, pid...);
//  - the monitor (host root) writes the uid_map and gid_map, then makes a
//    detached, idmapped copy of every image layer (open_tree +
//    mount_setattr MOUNT_ATTR_IDMAP: only a process privileged over the
//    layers' filesystem may, which the init in its new namespace is not),
//    and sends their descriptors to the init over a unix socket;
//  - the init, on receiving them (so the maps are written), becomes the
//    namespace's root and mounts the overlay on /proc/self/fd/N lower dirs.
//    Files the host's root owns in the layers look owned by root inside;
//    what the container writes lands in the upper dir as host UID map.uid.

struct UserNamespaceMap {
    var uid: UInt32
    var gid: UInt32
    var count: UInt32
    /// Rootless with /etc/subuid: container IDs 1...N (Rootless.swift).
    var subordinate: SubordinateIDs? = nil
}

/// Monitor side: the init's maps, then the idmapped layers over `socket`.
/// Returns nil, or why it failed.
func setUpUserNamespace(_ o: SpawnOptions, map: UserNamespaceMap, pid: pid_t, socket: Int32) -> String? {
    if !writeFile("/proc/\(pid)/uid_map", "0 \(map.uid) \(map.count)\n") {
        return "write the container's uid_map: \(errnoText())"
    }
    if !writeFile("/proc/\(pid)/gid_map", "0 \(map.gid) \(map.count)\n") {
        return "write the container's gid_map: \(errnoText())"
    }
    let userns = open("/proc/\(pid)/ns/user", O_RDONLY | O_CLOEXEC)
    if userns < 0 { return "open the container's user namespace: \(errnoText())" }
    defer { close(userns) }
    var trees: [Int32] = []
    defer { for fd in trees { close(fd) } }
    for lower in o.lowerDirs {
        let path = lower.hasPrefix("/") || o.lowerBase.isEmpty ? lower : o.lowerBase + "/" + lower
        let tree = skiff_idmapped_tree(path, userns)
        if tree < 0 { return "make an idmapped mount of layer \(path): \(errnoText()) (needs a kernel and filesystem with idmapped mounts; use --userns=host)" }
        trees.append(tree)
    }
    if trees.count > Int(SKIFF_MAX_PASSED_FDS) { return "the image has \(trees.count) layers: at most \(SKIFF_MAX_PASSED_FDS) with --userns=private" }
    let rc = trees.withUnsafeBufferPointer { skiff_send_fds(socket, $0.baseAddress, Int32($0.count)) }
    if rc != 0 { return "pass the idmapped layers to the container: \(errnoText())" }
    return nil
}

/// Init side: wait for the layers (sent once the maps are written), then
/// become the namespace's root with no supplementary groups. Returns the
/// layers' tree descriptors, bottom first.
func enterUserNamespace(socket: Int32, layers: Int) throws(SetupFailure) -> [Int32] {
    var fds = [Int32](repeating: -1, count: max(layers, 1))
    let n = fds.withUnsafeMutableBufferPointer { skiff_recv_fds(socket, $0.baseAddress, Int32($0.count)) }
    if n < 0 { _exit(125) } // the monitor failed and says why
    close(socket)
    if Int(n) != layers { throw SetupFailure(code: 125, message: "received \(n) of \(layers) idmapped layers") }
    try check(skiff_switch_user(0, 0, nil, 0, 1), "become root in the user namespace")
    return Array(fds.prefix(Int(n)))
}

/// Puts each idmapped layer over its own directory, in our private mount
/// namespace: overlayfs takes a private clone of every lower dir, which
/// it may only do for mounts in a namespace we own, not for the
/// monitor's detached trees. The overlay's lower dirs then keep their paths.
func attachIdmappedLayers(_ o: SpawnOptions, _ trees: [Int32]) throws(SetupFailure) {
    for (tree, lower) in zip(trees, o.lowerDirs) {
        let path = lower.hasPrefix("/") || o.lowerBase.isEmpty ? lower : o.lowerBase + "/" + lower
        try check(skiff_attach_tree(tree, path), "attach the idmapped layer \(path)")
        close(tree)
    }
}

/// Makes the container's writable dirs its root's (host UID map.uid), so
/// it can write to its upper dir and the /etc files Skiff binds in.
func handOverWritableDirs(_ o: SpawnOptions, map: UserNamespaceMap) {
    var paths = [o.upperDir, o.workDir]
    paths += o.binds.map(\.source).filter { $0.hasPrefix(o.stateDir + "/") }
    for path in paths where chown(path, map.uid, map.gid) != 0 {
        failStart(o, 125, "hand \(path) to the container's root (host UID \(map.uid)): \(errnoText())")
    }
    // The state dir is 0710: its group may pass through to merged, upper
    // and work (the init mounts by path), nobody else may list it.
    if chown(o.stateDir, 0, map.gid) != 0 {
        failStart(o, 125, "let the container's root reach \(o.stateDir): \(errnoText())")
    }
}

/// `skiff-spawn probe-idmap DIR UID` (for `skiff doctor`): makes a user
/// namespace whose root is host UID, an idmapped copy of DIR through it,
/// and prints the owner its file `probe` (the host root's) has through
/// that copy: "ok UID" when idmapped mounts work here, else "fail WHY".
func probeIdmappedMount(_ args: [String]) -> Never {
    guard args.count == 4, let uid = UInt32(args[3]) else { fail(125, "spawn: usage: skiff-spawn probe-idmap DIR UID") }
    let hold = makePipe()
    let child = skiff_clone_fork(SKIFF_CLONE_NEWUSER)
    if child < 0 { print("fail create a user namespace: \(errnoText())"); exit(0) }
    if child == 0 {
        close(hold.write)
        var byte: UInt8 = 0
        _ = read(hold.read, &byte, 1)
        _exit(0)
    }
    close(hold.read)
    var result = ""
    if !writeFile("/proc/\(child)/uid_map", "0 \(uid) 1\n") || !writeFile("/proc/\(child)/gid_map", "0 \(uid) 1\n") {
        result = "fail write the uid_map: \(errnoText())"
    } else {
        let userns = open("/proc/\(child)/ns/user", O_RDONLY | O_CLOEXEC)
        let tree = userns < 0 ? -1 : skiff_idmapped_tree(args[2], userns)
        if tree < 0 {
            result = "fail \(errnoText())"
        } else {
            var st = stat()
            result = fstatat(tree, "probe", &st, AT_SYMLINK_NOFOLLOW) == 0 ? "ok \(st.st_uid)" : "fail stat: \(errnoText())"
            close(tree)
        }
        if userns >= 0 { close(userns) }
    }
    close(hold.write)
    _ = waitStatus(child)
    print(result)
    exit(0)
}
