import CArchive // sys/xattr.h
import Glibc
import SkiffCommon
import SkiffImages
import SkiffKernel

/// Rootless mode: skiff run by a user other than root.
///
/// The container still gets its own mount, pid, uts, ipc, net and cgroup
/// namespaces, made inside a user namespace of its own in which the user's
/// UID and GID are root. What else is mapped depends on the machine:
///
/// - with a subordinate range (the user's /etc/subuid and /etc/subgid
///   entries, and newuidmap/newgidmap installed), container IDs 1...N are
///   that range, as in rootless Podman: --user, `exec --user` and image
///   files of other owners work. A layer's files are unpacked as the user
///   (who cannot give them away) and then handed to the range's IDs their
///   tar names, once per layer, inside a user namespace where the range
///   is mapped (`shiftLayerOwners`); what the user cannot remove later is
///   removed in such a namespace too (`Files.removeOutOfReach`);
/// - without one, only `0 UID 1`: all an unprivileged process may map
///   itself. Every file is root's inside, and other IDs are refused.
///
/// cgroups (`RootlessCgroups`): under the cgroup v2 subtree delegated to
/// the user (systemd's user@UID.service), with the limits whose controller
/// that subtree lists; without one (cgroup v1 has no delegation) no cgroup,
/// and --memory, --pids-limit and --cpus are refused, not silently
/// dropped. The probes still need root. --userns changes nothing rootless: as with Docker
/// rootless, "host" is the user's own namespace, and every container
/// has a private one inside it.
extension Engine {
    /// Checks a rootless `create` and returns its user namespace map.
    func rootlessUserNamespace(_ spec: RunSpec) throws(SkiffError) -> UserNamespaceMap {
        if spec.limits.limitsMemory || spec.limits.limitsPids || spec.limits.limitsCpu,
           let refusal = try rootlessCgroups().refusal(spec.limits) {
            throw refusal
        }
        var map = UserNamespaceMap(uid: getuid(), gid: getgid(), count: 1)
        if case .success(let range) = SubordinateIDs.forCurrentUser() { map.subordinate = range }
        return map
    }

    /// The rootless engine's cgroup driver (`RootlessCgroups`).
    func rootlessCgroups() throws(SkiffError) -> RootlessCgroups {
        if let driver = try cgroupDriver() as? RootlessCgroups { return driver }
        return try RootlessCgroups.forThisProcess()
    }

    /// What rootless containers get from cgroups here, for `doctor`.
    func rootlessCgroupFact() -> String {
        if isRoot {
            let v2 = (try? Cgroups.detect())?.version == .v2
            return v2 ? "a user's containers get cgroups under the cgroup v2 subtree systemd delegates to it (user@UID.service), "
                + "with the limits whose controllers that subtree lists"
                : "without cgroups: cgroup v1 does not delegate to users, so --memory, --pids-limit and --cpus are refused"
        }
        guard let cgroups = try? rootlessCgroups() else { return "no cgroups could be read" }
        guard let subtree = cgroups.subtree else { return "without cgroups: \(cgroups.reason), so --memory, --pids-limit and --cpus are refused" }
        let listed = subtree.availableControllers
        let flags = [("memory", "--memory"), ("pids", "--pids-limit"), ("cpu", "--cpus")]
        let works = flags.filter { listed.contains($0.0) }.map(\.1)
        let refused = flags.filter { !listed.contains($0.0) }.map(\.1)
        return "cgroup v2 subtree \(subtree.root) is delegated to you: each container gets a cgroup below it"
            + (works.isEmpty ? "" : "; \(works.joined(separator: ", ")) work")
            + (refused.isEmpty ? "" : "; \(refused.joined(separator: ", ")) are refused (controllers not delegated: "
                + "\(listed.isEmpty ? "it offers none" : "it offers \(listed.joined(separator: " "))"))")
    }

    /// The xattr on a layer's directory that says which range its files
    /// were handed to ("UID GID COUNT").
    static let shiftedMark = "user.skiff.subids"

    /// Rootless with a range: gives each layer's files the owners their tar
    /// names (container ID K is host ID range.uid+K-1; root's stay the
    /// user's), once per layer, through the spawn helper's `chown-in-range`.
    /// Call holding the store lock shared (as `create` does), so no prune
    /// removes a layer meanwhile.
    func shiftLayerOwners(_ image: Image, lowerDirs: [String], map: UserNamespaceMap) throws(SkiffError) {
        guard let range = map.subordinate else { return }
        let mark = "\(range.uid) \(range.gid) \(range.count)"
        for (layer, directory) in zip(image.manifest.layers, lowerDirs) where Self.readMark(directory) != mark {
            let records = try ownerRecords(blob: images.blobPath(layer.digest), range: range, layer: layer.digest.description)
            if !records.isEmpty {
                try Files.makeDirectories(root.tmp)
                let (fd, manifest) = try Files.makeTemporaryFile(prefix: root.tmp + "/owners-")
                defer { unlink(manifest) }
                let written = Result { () throws(SkiffError) in try Files.writeAll(fd, Array(records.utf8), what: manifest) }
                close(fd)
                try written.get()
                let out = try Subprocess.run(try Helper.path(), ["chown-in-range", directory, manifest,
                                                                 "\(range.uid)", "\(range.gid)", "\(range.count)"]).text.trimmed
                guard out == "ok" else {
                    throw SkiffError(.system, "hand the files of layer \(layer.digest) to your subordinate IDs: "
                        + (out.hasPrefix("fail ") ? String(out.dropFirst(5)) : out))
                }
            }
            _ = Array(mark.utf8).withUnsafeBytes { setxattr(directory, Self.shiftedMark, $0.baseAddress, $0.count, 0) }
        }
    }

    /// "uid gid mode path\0" for each entry of a layer's tar that is not
    /// root's (hard links share their target's inode, whiteouts stay the
    /// user's), as `chown-in-range` reads them.
    func ownerRecords(blob: String, range: SubordinateIDs, layer: String) throws(SkiffError) -> String {
        var records = ""
        for entry in try ArchiveReader.entries(ofFile: blob) where entry.uid != 0 || entry.gid != 0 {
            if case .hardlink = entry.kind { continue }
            let parts = entry.path.split(separator: "/").filter { $0 != "." }
            guard let base = parts.last, !parts.contains(".."), !base.hasPrefix(".wh.") else { continue }
            guard entry.uid <= range.count && entry.gid <= range.count else {
                throw SkiffError(.unsupported, "layer \(layer) has /\(parts.joined(separator: "/")) owned by "
                    + "\(entry.uid):\(entry.gid), beyond the \(range.count) subordinate IDs /etc/subuid and /etc/subgid give you "
                    + "(widen your range, or run as root)")
            }
            records += "\(entry.uid) \(entry.gid) \(String(entry.mode, radix: 8)) \(parts.joined(separator: "/"))\0"
        }
        return records
    }

    static func readMark(_ directory: String) -> String? {
        ExtendedAttribute.get(directory, shiftedMark).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Rootless: what the user cannot remove (a directory a container user
    /// or a layer gave to the range) is removed by the spawn helper inside
    /// a user namespace where the range is mapped.
    static func removeWithinRange() {
        Files.removeOutOfReach = { path in
            guard let helper = try? Helper.path(),
                  let out = try? Subprocess.run(helper, ["remove-in-range", path]) else { return false }
            return out.text.trimmed == "ok"
        }
    }

    /// How a container's user namespace came to be, for `explain`.
    static func userNamespaceKind(_ map: UserNamespaceMap, rootless: Bool) -> String {
        guard rootless else { return "--userns=private" }
        return map.subordinate == nil ? "rootless: your own UID is the only ID mapped"
            : "rootless: your own UID, and IDs from 1 on are your subordinate range from /etc/subuid"
    }
}
