import Glibc
import SkiffCommon
import SkiffImages

/// `skiff doctor`'s user-namespace checks: what --userns=private needs,
/// and what rootless mode (not in Skiff yet) would find on this machine.
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

    /// Rootless: a plain user running skiff. Skiff has no rootless mode
    /// yet; this says what the kernel would allow one here.
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
        if ok { facts.append("a non-root user may create user namespaces") }
        let user = getenv("SUDO_USER").map { String(cString: $0) } ?? (isRoot ? nil : "uid \(geteuid())")
        if let user, let name = user.hasPrefix("uid ") ? nil : user {
            let owns = UserNamespaceMap.subordinateRange("/etc/subuid", owner: name) != nil
            facts.append(owns ? "\(name) has an /etc/subuid range (more than one ID inside)"
                              : "\(name) has no /etc/subuid range: only its own UID could be mapped")
        }
        if Files.exists("/sys/fs/cgroup/cgroup.subtree_control") {
            let delegated = ((try? Files.readString("/sys/fs/cgroup/user.slice/cgroup.subtree_control")) ?? nil)?.trimmed ?? ""
            facts.append(delegated.isEmpty ? "cgroup v2 without delegation to user.slice: no memory, pids or cpu limits rootless"
                                           : "cgroup v2 delegates \(delegated) to user sessions: limits could work rootless")
        } else {
            facts.append("cgroup v1: no delegation to users, so a rootless container would run without limits")
        }
        // ok: the kernel would let a plain user have a user namespace.
        return DoctorCheck(name: "rootless", ok: ok,
                           detail: "not in Skiff yet (run as root); this machine: " + facts.joined(separator: "; "),
                           fix: ok ? nil : "sysctl -w kernel.unprivileged_userns_clone=1 (Debian) or "
                               + "kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu)")
    }
}
