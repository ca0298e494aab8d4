import CShim
import Glibc

/// Who the container's process runs as, found the way runc does: names
/// from the container's own /etc/passwd and /etc/group; numbers need no
/// entry; supplementary groups are the groups that list the user.
struct ResolvedUser {
    var uid: UInt32
    var gid: UInt32
    var groups: [UInt32]
    var home: String = "/"       // from passwd; "/" without an entry (runc's default)
}

/// `spec` is --user as given: UID, NAME, UID:GID, NAME:GROUP, ... Reads the
/// files through `rootFD` with RESOLVE_IN_ROOT: a symlinked /etc/passwd
/// cannot point the helper at a host file.
func resolveUser(_ spec: String, extraGroups: [String] = [], rootFD: Int32) throws(SetupFailure) -> ResolvedUser {
    let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    let userPart = parts[0]
    let groupPart = parts.count > 1 ? parts[1] : nil
    let passwd = readInRoot(rootFD, "/etc/passwd").map(colonRecords) ?? []
    let groupFile = readInRoot(rootFD, "/etc/group").map(colonRecords) ?? []

    var uid: UInt32
    var gid: UInt32 = 0
    var name: String? = nil
    var home = "/"
    if let entry = passwd.first(where: { $0.count >= 4 && ($0[0] == userPart || $0[2] == userPart) }),
       let id = UInt32(entry[2]) {
        uid = id
        gid = UInt32(entry[3]) ?? 0
        name = entry[0]
        if entry.count >= 6, !entry[5].isEmpty { home = entry[5] }
    } else if let id = UInt32(userPart) {
        uid = id
    } else {
        throw SetupFailure(code: 125, message: "unable to find user \(userPart): no matching entries in passwd file")
    }
    if let groupPart {
        if let entry = groupFile.first(where: { $0.count >= 3 && ($0[0] == groupPart || $0[2] == groupPart) }),
           let id = UInt32(entry[2]) {
            gid = id
        } else if let id = UInt32(groupPart) {
            gid = id
        } else {
            throw SetupFailure(code: 125, message: "unable to find group \(groupPart): no matching entries in group file")
        }
    }
    // The primary group first, then every group whose member list names the user.
    var groups = [gid]
    if let name {
        for entry in groupFile where entry.count >= 4 {
            let members = entry[3].split(separator: ",").map(String.init)
            if members.contains(name), let id = UInt32(entry[2]), !groups.contains(id) { groups.append(id) }
        }
    }
    // --group-add: a name must be in /etc/group; a number need not.
    for extra in extraGroups {
        let id: UInt32
        if let entry = groupFile.first(where: { $0.count >= 3 && $0[0] == extra }), let found = UInt32(entry[2]) {
            id = found
        } else if let number = UInt32(extra) {
            id = number
        } else {
            throw SetupFailure(code: 125, message: "unable to find group \(extra): no matching entries in group file")
        }
        if !groups.contains(id) { groups.append(id) }
    }
    return ResolvedUser(uid: uid, gid: gid, groups: groups, home: home)
}

/// A small text file of the container's, or nil when it has none.
func readInRoot(_ rootFD: Int32, _ path: String) -> String? {
    // O_NONBLOCK: a FIFO planted as /etc/passwd must not hang the start.
    let fd = skiff_open_in_root(rootFD, path, O_RDONLY | O_NONBLOCK, 0)
    if fd < 0 { return nil }
    defer { close(fd) }
    var st = stat()
    // A regular file, and not a huge one: the container wrote it.
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size <= 4 << 20 else { return nil }
    return String(decoding: readAll(fd), as: UTF8.self)
}

/// passwd(5)/group(5) lines as fields; comments and blank lines skipped.
func colonRecords(_ text: String) -> [[String]] {
    text.split(separator: "\n").compactMap { line in
        if line.hasPrefix("#") || line.isEmpty { return nil }
        return line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    }
}

/// Rootless, the user's namespace maps only root unless it has a
/// subordinate range (Rootless.swift); without one, setgroups is denied
/// and the groups cannot change.
func switchUser(_ user: ResolvedUser) throws(SetupFailure) {
    // Without setgroups the supplementary groups stay the user's and need no mapping.
    let groups = rootless && !setgroupsAllowed ? [] : user.groups
    if rootless, let id = ([(user.uid, "uid_map")] + ([user.gid] + groups).map { ($0, "gid_map") })
        .first(where: { !isMapped($0.0, in: $0.1) }) {
        let what = id.1 == "uid_map" ? "UID \(id.0)" : "GID \(id.0)"
        let why = isMapped(1, in: "uid_map")
            ? "\(what) is beyond the subordinate range /etc/subuid and /etc/subgid give you"
            : "the container's user namespace maps only root (your own UID); add a range for you to /etc/subuid and /etc/subgid (and install uidmap) for --user"
        throw SetupFailure(code: 125, message: "switch to user \(user.uid):\(user.gid): rootless, \(why)")
    }
    let setGroups: Int32 = rootless && !setgroupsAllowed ? 0 : 1
    let rc = user.groups.withUnsafeBufferPointer { skiff_switch_user(user.uid, user.gid, $0.baseAddress, $0.count, setGroups) }
    try check(rc, "switch to user \(user.uid):\(user.gid)")
}
