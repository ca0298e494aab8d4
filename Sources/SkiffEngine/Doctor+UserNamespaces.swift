import Glibc
import SkiffCommon
import SkiffImages

/// `skiff doctor`'s user-namespace checks: what --userns=private needs,
/// and what rootless mode can do on this machine.
extension Engine {
    func userNamespaceChecks() -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        let maxUserNS = ((try? Files.readString("/proc/sys/user/max_user_namespaces")) ?? nil)?.trimmed ?? "0"
        let userns = (Int(maxUserNS) ?? 0) > 0
        checks.append(DoctorCheck(name: "user namespaces", ok: userns,
                                  detail: "max_user_namespaces = \(maxUserNS)"
                                      + (userns ? ": --userns=private can give a container its own" : ": none may be made"),
                                  fix: userns ? nil : "sysctl -w user.max_user_namespaces=15000"))

        let (map, source) = UserNamespaceMap.forThisMachine()
        checks.append(DoctorCheck(name: "subordinate IDs", ok: true,
                                  detail: "--userns=private maps container root to host UID \(map.uid) "
                                      + "(\(map.count) IDs, GIDs from \(map.gid)) from \(source)",
                                  fix: source.hasPrefix("/etc") ? nil
                                      : "optional: add 'skiff:100000:65536' to /etc/subuid and /etc/subgid to choose the range"))
        checks.append(idmappedMountCheck(uid: map.uid))
        checks.append(rootlessCheck(userns: userns))
        return checks
    }

    /// Tries it: an idmapped copy of a fresh directory, made by the helper
    /// (a user namespace needs a single-threaded process to live in).
    func idmappedMountCheck(uid: UInt32) -> DoctorCheck {
        let name = "idmapped mounts"
        guard isRoot else {
            return DoctorCheck(name: name, ok: false, detail: "not probed: only root may map a range of host IDs", fix: "run skiff doctor as root")
        }
        let dir = root.tmp + "/idmap-probe-\(getpid())"
        defer { unlink(dir + "/probe"); rmdir(dir) }
        let outcome: String
        do throws(SkiffError) {
            try Files.makeDirectories(dir, mode: 0o700)
            try Files.writeAtomically(dir + "/probe", [])
            outcome = try Subprocess.run(try Helper.path(), ["probe-idmap", dir, "\(uid)"]).text.trimmed
        } catch {
            return DoctorCheck(name: name, ok: false, detail: "could not probe: \(error.message)", fix: nil)
        }
        if outcome == "ok \(uid)" {
            return DoctorCheck(name: name, ok: true,
                               detail: "an idmapped mount of \(root.tmp) shows root's file as host UID \(uid): "
                                   + "--userns=private containers see their image's files owned by root",
                               fix: nil)
        }
        return DoctorCheck(name: name, ok: false,
                           detail: "idmapped mount of \(root.tmp) failed (\(outcome)): --userns=private cannot start",
                           fix: "use a kernel of 5.19 or later and keep SKIFF_ROOT on ext4, xfs, btrfs or tmpfs")
    }

    /// Rootless: a plain user running skiff (Engine+Rootless.swift): what
    /// the kernel allows here, and what a rootless container gets.
    func rootlessCheck(userns: Bool) -> DoctorCheck {
        var facts: [String] = []
        var ok = userns
        if let text = (try? Files.readString("/proc/sys/kernel/unprivileged_userns_clone")) ?? nil, text.trimmed == "0" {
            facts.append("kernel.unprivileged_userns_clone = 0 forbids user namespaces to non-root users")
            ok = false
        }
        if let text = (try? Files.readString("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")) ?? nil, text.trimmed == "1" {
            facts.append("AppArmor restricts unprivileged user namespaces")
            ok = false
        }
        if ok {
            facts.append("a non-root user may create user namespaces, so skiff run works without sudo: "
                + "container root is your own UID, state in \(isRoot ? "~/.local/share/skiff" : root.path)")
        }
        facts.append(rootlessCgroupFact())
        facts.append(Self.rangeFact(isRoot: isRoot))
        facts.append("doctor --probes needs root")
        return DoctorCheck(name: "rootless", ok: ok,
                           detail: facts.joined(separator: "; "),
                           fix: ok ? nil : "sysctl -w kernel.unprivileged_userns_clone=1 (Debian) or "
                               + "kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu)")
    }

    /// What the subordinate range gives a rootless container (Engine+Rootless.swift).
    static func rangeFact(isRoot: Bool) -> String {
        let gives = "--user, exec --user and image files of other owners work"
        if isRoot {
            return "a user with /etc/subuid and /etc/subgid entries gets them mapped through newuidmap/newgidmap "
                + "(\(SubordinateIDs.tool("newuidmap") == nil ? "not installed: apt-get install uidmap" : "installed")), so \(gives); "
                + "without one only the user's own UID is mapped, as root"
        }
        switch SubordinateIDs.forCurrentUser() {
        case .success(let r):
            return "subordinate IDs: container UIDs 1-\(r.count) are host UIDs \(r.uid)-\(r.uid + r.count - 1) "
                + "(GIDs from \(r.gid)) through newuidmap/newgidmap, so \(gives)"
        case .failure(let missing):
            return "only root is mapped (one ID), because \(missing.reason): --user with another ID and image files "
                + "of other owners need a range (apt-get install uidmap; usermod --add-subuids 100000-165535 "
                + "--add-subgids 100000-165535 YOU) or root"
        }
    }
}
