import CShim
import Glibc
import SkiffCommon

// Rootless: the helper runs as a plain user (Engine+Rootless.swift). The
// init is cloned with CLONE_NEWUSER beside the other namespaces, as for
// --userns=private, and the monitor writes its maps in one of two ways:
//
//  - with a subordinate range (the engine passed --subids: the user has
//    /etc/subuid and /etc/subgid entries and newuidmap/newgidmap exist),
//    the setuid helpers write `0 UID 1` plus `1 SUBUID N` (and the same
//    for GIDs), as rootless Podman does. setgroups stays allowed, so
//    --user, supplementary groups and files of other owners work;
//  - else the only maps a plain user may write itself: its own UID and
//    GID as root, one ID each, with setgroups denied first (the kernel's
//    rule for unprivileged gid_maps).
//
// Unlike --userns=private nothing is chowned at start and no layer is
// idmapped: the user unpacked the layers and owns the container's dirs,
// which the map shows as root's (files of other owners in a layer were
// handed to the range once, by `chown-in-range` below). After the maps the
// init is root in its namespace already (its credentials are the user's,
// now mapped to 0) and holds every capability there, enough to mount
// overlay (with userxattr), proc, sysfs, tmpfs, devpts and binds, and to
// pivot_root.

/// Whether this helper runs rootless. main.swift reads it first: once
/// `exec` has joined a rootless container's user namespace, our UID reads 0.
let rootless = getuid() != 0

/// Monitor side: map the init's namespace, then tell it so over `socket`.
/// Returns nil, or why it failed.
func mapOwnIDs(pid: pid_t, map: UserNamespaceMap, socket: Int32) -> String? {
    if let range = map.subordinate {
        if let failure = mapRange(pid: pid, own: (map.uid, map.gid), range: range) { return failure }
    } else {
        if !writeFile("/proc/\(pid)/setgroups", "deny\n") { return "deny setgroups in the container's user namespace: \(errnoText())" }
        if !writeFile("/proc/\(pid)/uid_map", "0 \(getuid()) 1\n") { return "write the container's uid_map: \(errnoText())" }
        if !writeFile("/proc/\(pid)/gid_map", "0 \(getgid()) 1\n") { return "write the container's gid_map: \(errnoText())" }
    }
    if write(socket, [1 as UInt8], 1) != 1 { return "tell the container its user namespace is mapped: \(errnoText())" }
    return nil
}

/// Init side: wait until the monitor has written our maps.
func awaitOwnMap(socket: Int32) {
    var byte: UInt8 = 0
    if read(socket, &byte, 1) != 1 { _exit(125) } // the monitor failed and says why
    close(socket)
}

/// Writes the maps of `pid`'s user namespace with newuidmap and newgidmap:
/// container 0 is the user's own ID, 1...N the subordinate range. Both run
/// at once (each is a setuid exec of a few milliseconds).
func mapRange(pid: pid_t, own: (uid: UInt32, gid: UInt32), range: SubordinateIDs) -> String? {
    var running: [(name: String, args: [String], tool: StartedTool)] = []
    for (name, gids) in [("newuidmap", false), ("newgidmap", true)] {
        guard let tool = SubordinateIDs.tool(name) else {
            return "map the container's IDs: \(name) is missing (install Debian's uidmap, or remove your /etc/subuid entry to run with one ID)"
        }
        let args = ["\(pid)"] + range.toolArguments(own: gids ? own.gid : own.uid, gids: gids)
        running.append((name, args, startTool(tool, args)))
    }
    var failure: String? = nil
    for (name, args, tool) in running {
        if let why = tool.finish(), failure == nil {
            failure = "map the container's IDs: \(name) \(args.joined(separator: " ")) failed: \(why)"
        }
    }
    return failure
}

/// A helper started by `startTool`: its pid and the read end of its stderr.
struct StartedTool {
    var pid: pid_t
    var errors: Int32
    var failure: String? = nil

    /// Waits for it: nil when it exited 0, else its first line of stderr.
    func finish() -> String? {
        if let failure { return failure }
        let text = String(decoding: readAll(errors), as: UTF8.self)
        close(errors)
        let code = waitStatus(pid)
        if code == 0 { return nil }
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        return line.isEmpty ? "exit status \(code)" : line
    }
}

/// Starts a setuid helper with its stderr on a pipe and no other output.
func startTool(_ path: String, _ args: [String]) -> StartedTool {
    let errors = makePipe()
    let child = fork()
    if child < 0 {
        close(errors.read)
        close(errors.write)
        return StartedTool(pid: -1, errors: -1, failure: "fork: \(errnoText())")
    }
    if child == 0 {
        close(errors.read)
        let null = open("/dev/null", O_RDWR)
        if null >= 0 { dup2(null, 0); dup2(null, 1) }
        dup2(errors.write, 2)
        let argv = ([path] + args).map { strdup($0) } + [nil]
        execv(path, argv)
        _exit(127)
    }
    close(errors.write)
    return StartedTool(pid: child, errors: errors.read)
}

/// Runs `body` in a child that is root of a new user namespace in which
/// the user is 0 and the subordinate range 1...N, so it may change and
/// remove files of the range's owners. Returns nil, or why it failed.
func inUserRange(_ range: SubordinateIDs, _ body: () -> String?) -> String? {
    let hold = makePipe()
    let result = makePipe()
    let child = skiff_clone_fork(SKIFF_CLONE_NEWUSER)
    if child < 0 { return "create a user namespace: \(errnoText())" }
    if child == 0 {
        close(hold.write)
        close(result.read)
        var byte: UInt8 = 0
        if read(hold.read, &byte, 1) != 1 { _exit(125) } // not mapped: the parent says why
        if let failure = body() { writeAll(result.write, Array(failure.utf8)); _exit(1) }
        _exit(0)
    }
    close(hold.read)
    close(result.write)
    var failure = mapRange(pid: child, own: (getuid(), getgid()), range: range)
    if failure == nil { writeAll(hold.write, [1]) }
    close(hold.write)
    let said = String(decoding: readAll(result.read), as: UTF8.self)
    close(result.read)
    let code = waitStatus(child)
    if failure == nil && code != 0 { failure = said.isEmpty ? "exit status \(code)" : said }
    return failure
}

/// `skiff-spawn remove-in-range PATH...`: rm -rf inside the user's range,
/// for what a plain user cannot remove itself (directories a container
/// user or an image's layer gave to an ID of the range). Prints "ok" or
/// "fail WHY" (the engine's Files.removeOutOfReach reads it).
func removeInRangeCommand(_ args: [String]) -> Never {
    let failure = removeInRange(Array(args.dropFirst(2)))
    print(failure.map { "fail \($0)" } ?? "ok")
    exit(0)
}

func removeInRange(_ paths: [String]) -> String? {
    switch SubordinateIDs.forCurrentUser() {
    case .failure(let missing): return missing.reason
    case .success(let range):
        return inUserRange(range) {
            for path in paths {
                do throws(SkiffError) { try Files.removeTree(path) } catch { return error.message }
            }
            return nil
        }
    }
}

/// `skiff-spawn chown-in-range DIR MANIFEST UID GID COUNT`: gives the files
/// of an unpacked layer the owners its tar names, inside the user's range
/// (container ID K is host ID UID+K-1; 0 stays the user). MANIFEST holds
/// one record per file, "uid gid mode path" ended by NUL; paths are
/// resolved inside DIR (openat2 RESOLVE_IN_ROOT) and links are not
/// followed. chown clears setuid and setgid bits, so the mode is set again.
/// Prints "ok" or "fail WHY".
func chownInRangeCommand(_ args: [String]) -> Never {
    guard args.count == 7, let u = UInt32(args[4]), let g = UInt32(args[5]), let c = UInt32(args[6]),
          let manifest = readFile(args[3]) else {
        print("fail usage: skiff-spawn chown-in-range DIR MANIFEST UID GID COUNT")
        exit(0)
    }
    let directory = args[2]
    let failure = inUserRange(SubordinateIDs(uid: u, gid: g, count: c)) {
        let root = open(directory, SKIFF_O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        if root < 0 { return "open \(directory): \(errnoText())" }
        defer { close(root) }
        for record in manifest.split(separator: "\0") {
            let fields = record.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard fields.count == 4, let uid = UInt32(fields[0]), let gid = UInt32(fields[1]),
                  let mode = UInt32(fields[2], radix: 8) else { return "bad manifest record \(record)" }
            let path = String(fields[3])
            let slash = path.lastIndex(of: "/")
            let parentPath = slash.map { String(path[..<$0]) } ?? ""
            let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
            let parent = skiff_open_in_root(root, parentPath, SKIFF_O_PATH | O_DIRECTORY, 0)
            if parent < 0 { return "open \(parentPath) in \(directory): \(errnoText())" }
            defer { close(parent) }
            if fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0 {
                return "chown \(path) to \(uid):\(gid) in \(directory): \(errnoText())"
            }
            var st = stat()
            guard fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return "stat \(path): \(errnoText())" }
            if (st.st_mode & S_IFMT) != S_IFLNK && (st.st_mode & 0o7777) != mode_t(mode & 0o7777),
               fchmodat(parent, name, mode_t(mode & 0o7777), 0) != 0 {
                return "chmod \(path) in \(directory): \(errnoText())"
            }
        }
        return nil
    }
    print(failure.map { "fail \($0)" } ?? "ok")
    exit(0)
}

/// Whether container ID `id` is mapped in our user namespace ("uid_map"
/// or "gid_map" of /proc/self): rootless without a range, only 0 is.
func isMapped(_ id: UInt32, in file: String) -> Bool {
    guard let text = readFile("/proc/self/" + file) else { return false }
    for line in text.split(separator: "\n") {
        let f = line.split(separator: " ").compactMap { UInt32($0) }
        if f.count == 3 && id >= f[0] && id - f[0] < f[2] { return true }
    }
    return false
}

/// Whether setgroups(2) is allowed in our user namespace (not with the
/// one-ID map, where it had to be denied).
var setgroupsAllowed: Bool { readFile("/proc/self/setgroups")?.hasPrefix("allow") ?? true }
