import Foundation
import Testing

/// The plain user the range tests run skiff as: `skifftest`, a system user
/// with a subordinate range in /etc/subuid and /etc/subgid. Made on first
/// use (as root, under a lock: suites run in parallel, and so may two test
/// processes) and left in place for later runs; its range is put after
/// every range the files already hold. nil when it cannot be made.
enum RangeUser {
    static let name = "skifftest"
    static let newRangeCount: UInt32 = 65536

    struct Facts: Sendable {
        var uid: UInt32, gid: UInt32
        var subUID: UInt32, subGID: UInt32, count: UInt32 // count: the smaller range, as skiff maps it
    }

    static let facts: Facts? = {
        guard geteuid() == 0, access("/usr/bin/newuidmap", X_OK) == 0, access("/usr/bin/newgidmap", X_OK) == 0 else { return nil }
        let lock = open("/run/lock/skiff-test-user.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0, flock(lock, LOCK_EX) == 0 else { return nil }
        defer { close(lock) }
        if getpwnam(name) == nil {
            let add = Process()
            add.executableURL = URL(fileURLWithPath: "/usr/sbin/useradd")
            add.arguments = ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
            guard (try? add.run()) != nil else { return nil }
            add.waitUntilExit()
        }
        guard let pw = getpwnam(name) else { return nil }
        let (uid, gid) = (pw.pointee.pw_uid, pw.pointee.pw_gid)
        guard let u = ensureRange("/etc/subuid"), let g = ensureRange("/etc/subgid") else { return nil }
        return Facts(uid: uid, gid: gid, subUID: u.start, subGID: g.start, count: min(u.count, g.count))
    }()

    /// The user's (first) range in `path`, appended after the others when missing.
    static func ensureRange(_ path: String) -> (start: UInt32, count: UInt32)? {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var end: UInt32 = 1_000_000
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ":")
            guard f.count == 3, let start = UInt32(f[1]), let n = UInt32(f[2]) else { continue }
            if f[0] == name { return (start, n) }
            end = max(end, start + n)
        }
        let line = (text.isEmpty || text.hasSuffix("\n") ? "" : "\n") + "\(name):\(end):\(newRangeCount)\n"
        guard let handle = FileHandle(forWritingAtPath: path) ?? {
            FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o644])
            return FileHandle(forWritingAtPath: path)
        }() else { return nil }
        handle.seekToEndOfFile()
        handle.write(Data(line.utf8))
        try? handle.close()
        return (end, newRangeCount)
    }
}

extension Sandbox {
    /// A build context in the state root, its files `owner`'s.
    func buildContext(owner: (uid: UInt32, gid: UInt32), files: [String: String]) throws -> String {
        let context = root + "/ctx"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        chown(context, owner.uid, owner.gid)
        for (name, text) in files {
            try text.write(toFile: context + "/" + name, atomically: true, encoding: .utf8)
            chown(context + "/" + name, owner.uid, owner.gid)
        }
        return context
    }
}

/// Rootless with a subordinate range: skiff run by `skifftest` (see
/// RangeUser), whose containers map 0 to it and 1...65536 to its range.
@Suite("rootless with a subordinate range",
       .enabled(if: isRoot, "needs root to make the test user and to become it (setpriv)"),
       .enabled(if: unprivilegedUserNamespaces, "the kernel forbids user namespaces to non-root users"),
       .enabled(if: RangeUser.facts != nil, "needs newuidmap/newgidmap (Debian's uidmap) and useradd to make the test user"))
struct RootlessRangeTests {
    let user = RangeUser.facts!

    func sandbox(_ label: String = #function) -> Sandbox {
        let box = Sandbox(label)
        chown(box.root, user.uid, user.gid)
        return box
    }

    /// skiff as the test user; `gid` other than its own group to make newgidmap refuse.
    func skiff(_ box: Sandbox, _ args: [String], gid: UInt32? = nil, timeout: Double = 60) throws -> Sandbox.Result {
        try box.run(["--reuid", "\(user.uid)", "--regid", "\(gid ?? user.gid)", "--clear-groups", Sandbox.skiff] + args,
                    timeout: timeout, executable: "/usr/bin/setpriv")
    }

    func owner(_ path: String) -> String {
        var st = stat()
        return lstat(path, &st) == 0 ? "\(st.st_uid):\(st.st_gid)" : "missing"
    }

    func waitForLogs(_ box: Sandbox, _ name: String, containing text: String) throws -> String {
        var logs = try skiff(box, ["logs", name])
        for _ in 0..<150 where !logs.stdout.contains(text) {
            usleep(20_000)
            logs = try skiff(box, ["logs", name])
        }
        return logs.stdout + logs.stderr
    }

    @Test func theMapIsTheUserAndItsRange() throws {
        let box = sandbox()
        defer { box.cleanUp() }
        let r = try skiff(box, ["run", "-d", "--name", "m", "busybox", "sh", "-c", "cat /proc/self/uid_map; sleep 30"])
        #expect(r.code == 0, "\(r.stderr)")
        let pidText = try String(contentsOfFile: box.root + "/containers/\(r.out)/pid", encoding: .utf8)
        let pid = try #require(pidText.split(separator: " ").first.map(String.init))
        func map(_ file: String) throws -> [String] {
            try String(contentsOfFile: "/proc/\(pid)/\(file)", encoding: .utf8).split(separator: "\n")
                .map { $0.split(separator: " ").joined(separator: " ") }
        }
        #expect(try map("uid_map") == ["0 \(user.uid) 1", "1 \(user.subUID) \(user.count)"])
        #expect(try map("gid_map") == ["0 \(user.gid) 1", "1 \(user.subGID) \(user.count)"])
        #expect(try String(contentsOfFile: "/proc/\(pid)/setgroups", encoding: .utf8).hasPrefix("allow"))
        // inspect and explain show it as they do for --userns=private.
        let inspect = try skiff(box, ["inspect", "m"])
        #expect(inspect.stdout.contains("1 \(user.subUID) \(user.count)"), "\(inspect.stdout)")
        let explain = try skiff(box, ["explain", "m"])
        #expect(explain.stdout.contains("1 \(user.subUID) \(user.count)") && explain.stdout.contains("rootless"),
                "\(explain.stdout) \(explain.stderr)")
        // GID 5 is mapped: the terminal is group tty, as with root.
        let t = try skiff(box, ["run", "-d", "-t", "--name", "t", "busybox", "sh", "-c", "stat -c %g /dev/pts/0; sleep 30"])
        #expect(t.code == 0, "\(t.stderr)")
        let logs = try waitForLogs(box, "t", containing: "5")
        #expect(logs.split(whereSeparator: \.isNewline).first == "5", "\(logs)")
        #expect(try skiff(box, ["rm", "-f", "m", "t"]).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func otherUsersRunAndExec() throws {
        let box = sandbox()
        defer { box.cleanUp() }
        let run = try skiff(box, ["run", "--rm", "--user", "1000:1000", "busybox", "id"])
        #expect(run.code == 0 && run.out.hasPrefix("uid=1000 gid=1000"), "\(run.stdout) \(run.stderr)")
        let groups = try skiff(box, ["run", "--rm", "--user", "1000", "--group-add", "2000", "busybox", "id", "-G"])
        #expect(groups.code == 0 && groups.out == "0 2000", "\(groups.stdout) \(groups.stderr)")
        let started = try skiff(box, ["run", "-d", "--name", "e", "busybox", "sleep", "30"])
        #expect(started.code == 0, "\(started.stderr)")
        let exec = try skiff(box, ["exec", "-u", "1000:1000", "e", "sh", "-c",
                                   "id -u; mkdir /tmp/d && echo hi > /tmp/d/f && chmod 700 /tmp/d"])
        #expect(exec.code == 0 && exec.out == "1000", "\(exec.stdout) \(exec.stderr)")
        // What container UID 1000 made is host UID subUID+999 in the upper dir.
        let upper = box.root + "/containers/\(try #require(box.containerIDs.first))/upper"
        #expect(owner(upper + "/tmp/d/f") == "\(user.subUID + 999):\(user.subGID + 999)")
        #expect(try skiff(box, ["exec", "e", "stat", "-c", "%u:%g", "/tmp/d/f"]).out == "1000:1000")
        // commit gives the layer the IDs the files had inside.
        #expect(try skiff(box, ["exec", "-u", "1000:1000", "e", "sh", "-c", "mkdir /tmp/p && echo x > /tmp/p/g"]).code == 0)
        let commit = try skiff(box, ["commit", "e", "committed"])
        #expect(commit.code == 0, "\(commit.stderr)")
        let back = try skiff(box, ["run", "--rm", "committed", "stat", "-c", "%u:%g", "/tmp/p/g", "/tmp/p"])
        #expect(back.stdout == "1000:1000\n1000:1000\n", "\(back.stdout) \(back.stderr)")
        // Beyond the range: refused with one line.
        let beyond = try skiff(box, ["exec", "-u", "\(user.count + 1)", "e", "true"])
        #expect(beyond.code == 125 && beyond.stderr.contains("beyond the subordinate range"), "\(beyond.stderr)")
        // The user cannot remove /tmp/d (mode 700, another owner): rm does it inside the range.
        let rm = try skiff(box, ["rm", "-f", "e"])
        #expect(rm.code == 0, "\(rm.stderr)")
        #expect(box.containerIDs.isEmpty)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
        // And so does --rm, in the monitor.
        let gone = try skiff(box, ["run", "--rm", "-u", "7", "busybox", "sh", "-c", "mkdir /tmp/x && touch /tmp/x/y && chmod 500 /tmp/x"])
        #expect(gone.code == 0, "\(gone.stderr)")
        #expect(box.containerIDs.isEmpty)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func imageFilesKeepTheirOwnersWhiteoutsAndOpaqueDirectories() throws {
        let box = sandbox()
        defer { box.cleanUp() }
        let context = try box.buildContext(owner: (user.uid, user.gid), files: ["f": "data\n", "Dockerfile": """
            FROM busybox
            COPY --chown=1000:1001 f /home/f
            RUN mkdir -p /srv/a && touch /srv/a/old && chown -R 33:33 /srv
            RUN rm /bin/ls && rm -rf /srv/a && mkdir /srv/a && touch /srv/a/new
            """])
        let build = try skiff(box, ["build", "-t", "owners", context], timeout: 120)
        #expect(build.code == 0, "\(build.stdout) \(build.stderr)")
        let r = try skiff(box, ["run", "--rm", "owners", "sh", "-c",
                                "stat -c '%u:%g %n' /home/f /srv /srv/a/new; ls /srv/a; ls /bin/ls || echo no-ls"])
        #expect(r.code == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("1000:1001 /home/f"), "\(r.stdout)")
        #expect(lines.contains("33:33 /srv"), "\(r.stdout)")
        #expect(lines.contains("new") && !lines.contains("old"), "the opaque directory hides the old file: \(r.stdout)")
        #expect(lines.contains("no-ls"), "the whiteout hides /bin/ls: \(r.stdout)")
        // On the host, the layer's file belongs to the range.
        let layers = box.root + "/layers"
        let files = (try FileManager.default.contentsOfDirectory(atPath: layers)).map { layers + "/" + $0 + "/home/f" }
        let copied = try #require(files.first { FileManager.default.fileExists(atPath: $0) })
        #expect(owner(copied) == "\(user.subUID + 999):\(user.subGID + 1000)")
        // rmi removes the layers the user no longer owns.
        let rmi = try skiff(box, ["rmi", "owners"])
        #expect(rmi.code == 0, "\(rmi.stderr)")
        let prune = try skiff(box, ["image", "prune", "-a", "-f"])
        #expect(prune.code == 0, "\(prune.stderr)")
        #expect(!FileManager.default.fileExists(atPath: copied))
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func aRefusedMapLeavesNothing() throws {
        let box = sandbox()
        defer { box.cleanUp() }
        #expect(try skiff(box, ["pull", "busybox"]).code == 0)
        // newuidmap and newgidmap map for a process of the user's own group
        // only (besides its range): nogroup is neither.
        let r = try skiff(box, ["run", "--rm", "--name", "x", "busybox", "true"], gid: 65534)
        #expect(r.code == 125, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.hasPrefix("skiff: map the container's IDs: newuidmap"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(box.containerIDs.isEmpty)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func doctorSaysTheRangeAndWhatItGives() throws {
        let box = sandbox()
        defer { box.cleanUp() }
        let r = try skiff(box, ["doctor"])
        let line = r.stdout.split(separator: "\n").first { $0.hasPrefix("ok   rootless:") }.map(String.init) ?? ""
        #expect(line.contains("\(user.subUID)") && line.contains("--user"), "\(r.stdout)")
    }
}

/// The cgroup2 of these hybrid machines (without memory, pids and cpu,
/// which the v1 hierarchies hold; hugetlb at most), where a test can
/// delegate a cgroup to the test user as systemd delegates user@UID.service.
let controllerlessUnified: String? = {
    let path = "/sys/fs/cgroup/unified"
    let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    guard mounts.split(separator: "\n").contains(where: { $0.contains(" \(path) ") && $0.contains(" - cgroup2 ") }),
          let controllers = try? String(contentsOfFile: path + "/cgroup.controllers", encoding: .utf8),
          !controllers.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains(where: { ["memory", "pids", "cpu"].contains($0) })
    else { return nil }
    return path
}()

/// Rootless on cgroup v2 with a delegated subtree: a test cgroup under the
/// hybrid machines' unified hierarchy (no memory, pids or cpu controller), handed to the test user (directory,
/// cgroup.procs, cgroup.subtree_control, cgroup.threads), with skiff moved
/// into it before it drops to the user. SKIFF_TEST_ROOTLESS_CGROUP2 points
/// the rootless engine at that hierarchy (the root driver ignores it).
@Suite("rootless cgroup v2 delegation",
       .enabled(if: isRoot, "needs root to make and hand over the test cgroup and to become the test user"),
       .enabled(if: unprivilegedUserNamespaces, "the kernel forbids user namespaces to non-root users"),
       .enabled(if: RangeUser.facts != nil, "needs the test user (useradd)"),
       .enabled(if: controllerlessUnified != nil, "needs a cgroup2 at /sys/fs/cgroup/unified without memory, pids and cpu (a hybrid machine)"))
struct RootlessDelegationTests {
    let user = RangeUser.facts!
    let mount = controllerlessUnified!

    func skiff(_ box: Sandbox, in cgroup: String, _ args: [String]) throws -> Sandbox.Result {
        let script = "echo $$ > \(cgroup)/cgroup.procs && exec /usr/bin/setpriv --reuid \(user.uid) --regid \(user.gid) "
            + "--clear-groups \(Sandbox.skiff) \"$@\""
        return try box.run(["-c", script, "skiff"] + args, env: ["SKIFF_TEST_ROOTLESS_CGROUP2": mount],
                           executable: "/bin/sh")
    }

    /// Removes the test cgroup once the processes that were in it (a
    /// detached monitor, its delayed parent remover) are gone.
    func removeCgroup(_ path: String) -> Bool {
        for _ in 0..<300 {
            if rmdir(path) == 0 || errno == ENOENT { return true }
            usleep(20_000)
        }
        return false
    }

    @Test func containersGetACgroupInTheDelegatedSubtree() throws {
        let cgroup = mount + "/skiff-test-delegated-\(UUID().uuidString.prefix(8))"
        #expect(mkdir(cgroup, 0o755) == 0)
        for path in [cgroup, cgroup + "/cgroup.procs", cgroup + "/cgroup.subtree_control", cgroup + "/cgroup.threads"] {
            #expect(chown(path, user.uid, user.gid) == 0)
        }
        let box = Sandbox()
        chown(box.root, user.uid, user.gid)
        defer { box.cleanUp() }
        let relative = String(cgroup.dropFirst(mount.count))

        let r = try skiff(box, in: cgroup, ["run", "-d", "--name", "c", "busybox", "sleep", "30"])
        #expect(r.code == 0, "\(r.stderr)")
        let id = r.out
        let pidText = try String(contentsOfFile: box.root + "/containers/\(id)/pid", encoding: .utf8)
        let pid = try #require(pidText.split(separator: " ").first.map(String.init))
        let own = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
        #expect(own.split(separator: "\n").contains("0::\(relative)/skiff/\(id)"), "\(own)")
        #expect(FileManager.default.fileExists(atPath: cgroup + "/skiff/\(id)"))
        let inspect = try skiff(box, in: cgroup, ["inspect", "c"])
        #expect(inspect.stdout.contains(cgroup + "/skiff/\(id)"), "\(inspect.stdout) \(inspect.stderr)")

        let doctor = try skiff(box, in: cgroup, ["doctor"])
        let line = doctor.stdout.split(separator: "\n").first { $0.hasPrefix("ok   rootless:") }.map(String.init) ?? ""
        #expect(line.contains("cgroup v2 subtree \(cgroup) is delegated to you")
                && line.contains("--memory, --pids-limit, --cpus are refused (controllers not delegated"), "\(doctor.stdout)")

        // exec joins the container's cgroup (and its cgroup namespace, where it is "/").
        let exec = try skiff(box, in: cgroup, ["exec", "c", "cat", "/proc/self/cgroup"])
        #expect(exec.code == 0 && exec.stdout.contains("0::/\n"), "\(exec.stdout) \(exec.stderr)")

        // No memory controller in this subtree: --memory is refused, before anything is made.
        let memory = try skiff(box, in: cgroup, ["run", "--rm", "--memory", "64m", "busybox", "true"])
        #expect(memory.code == 125, "\(memory.stdout) \(memory.stderr)")
        #expect(memory.stderr.contains("cannot apply --memory rootless: the memory controller is not delegated to you"), "\(memory.stderr)")
        #expect(memory.stderr.split(separator: "\n").count == 1, "\(memory.stderr)")

        let once = try skiff(box, in: cgroup, ["run", "--rm", "busybox", "cat", "/proc/self/cgroup"])
        #expect(once.code == 0 && once.stdout.contains("0::/\n"), "its own cgroup namespace: \(once.stdout) \(once.stderr)")
        #expect(try skiff(box, in: cgroup, ["rm", "-f", "c"]).code == 0)
        #expect(!FileManager.default.fileExists(atPath: cgroup + "/skiff/\(id)"))
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
        // The shared skiff/ parent goes too (by rm, or the last monitor's delayed remover); then the test cgroup.
        var parentLeft = true
        for _ in 0..<250 where parentLeft {
            parentLeft = FileManager.default.fileExists(atPath: cgroup + "/skiff")
            if parentLeft { usleep(20_000) }
        }
        #expect(!parentLeft, "skiff left \(cgroup)/skiff")
        #expect(removeCgroup(cgroup), "left: \(cgroup)")
        #expect(!FileManager.default.fileExists(atPath: cgroup))
    }
}
