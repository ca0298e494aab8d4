import CShim
import Glibc

// Rootless: the helper runs as a plain user (Engine+Rootless.swift). The
// init is cloned with CLONE_NEWUSER beside the other namespaces, as for
// --userns=private, but the maps are the only ones a plain user may
// write: its own UID and GID as root, one ID each (`0 UID 1`), with
// setgroups denied first (the kernel's rule for unprivileged gid_maps).
//
// Unlike --userns=private nothing is chowned and no layer is idmapped:
// the user unpacked the layers and owns the container's dirs, which the
// map shows as root's. After the maps the init is root in its namespace
// already (its credentials are the user's, now mapped to 0) and holds
// every capability there, enough to mount overlay (with userxattr), proc,
// sysfs, tmpfs, devpts and binds, and to pivot_root.

/// Whether this helper runs rootless. main.swift reads it first: once
/// `exec` has joined a rootless container's user namespace, our UID reads 0.
let rootless = getuid() != 0

/// Monitor side: map the init's namespace, then tell it so over `socket`.
/// Returns nil, or why it failed.
func mapOwnIDs(pid: pid_t, socket: Int32) -> String? {
    if !writeFile("/proc/\(pid)/setgroups", "deny\n") { return "deny setgroups in the container's user namespace: \(errnoText())" }
    if !writeFile("/proc/\(pid)/uid_map", "0 \(getuid()) 1\n") { return "write the container's uid_map: \(errnoText())" }
    if !writeFile("/proc/\(pid)/gid_map", "0 \(getgid()) 1\n") { return "write the container's gid_map: \(errnoText())" }
    if write(socket, [1 as UInt8], 1) != 1 { return "tell the container its user namespace is mapped: \(errnoText())" }
    return nil
}

/// Init side: wait until the monitor has written our maps.
func awaitOwnMap(socket: Int32) {
    var byte: UInt8 = 0
    if read(socket, &byte, 1) != 1 { _exit(125) } // the monitor failed and says why
    close(socket)
}
