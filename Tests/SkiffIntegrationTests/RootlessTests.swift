import Foundation
import Testing

/// Whether the kernel lets a plain user create a user namespace.
let unprivilegedUserNamespaces: Bool = {
    func sysctl(_ path: String) -> Int? {
        (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
    if (sysctl("/proc/sys/user/max_user_namespaces") ?? 0) <= 0 { return false }
    if sysctl("/proc/sys/kernel/unprivileged_userns_clone") == 0 { return false }
    if sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1 { return false }
    return true
}()

/// Rootless mode on real containers: skiff run by `nobody` (the tests,
/// run as root in CI, drop to it with setpriv; the sandbox root is its).
@Suite("rootless", .enabled(if: isRoot, "needs root to become another user (setpriv); the containers themselves run as nobody"),
       .enabled(if: unprivilegedUserNamespaces, "the kernel forbids user namespaces to non-root users (max_user_namespaces, unprivileged_userns_clone or AppArmor)"))
struct RootlessTests {
    static let user = "65534" // nobody, and nogroup as its group (setpriv takes the same ID for both)
    static let uid = "65534"

    /// A sandbox whose state root belongs to nobody.
    func sandbox(_ label: String = #function) -> Sandbox {
        let box = Sandbox(label)
        chown(box.root, 65534, 65534)
        return box
    }

    func owner(_ path: String) -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        return (attributes?[.ownerAccountID] as? NSNumber).map { "\($0)" } ?? "missing"
    }

    @Test func rootInsideIsTheUserOutside() throws {
        let box = sandbox()
        let script = "echo uid=$(id -u) gid=$(id -g); cat /proc/self/uid_map; hostname; ls -ln /bin/busybox; sleep 30"
        let r = try box.run(["run", "-d", "--name", "rl", "--hostname", "inside", "busybox", "sh", "-c", script], as: Self.user)
        #expect(r.code == 0, "\(r.stderr)")
        let id = r.out
        let pidText = try String(contentsOfFile: box.root + "/containers/\(id)/pid", encoding: .utf8)
        let pid = try #require(pidText.split(separator: " ").first.map(String.init))
        // The host sees the container's init as nobody...
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let uidLine = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }.map(String.init) ?? ""
        #expect(uidLine.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().allSatisfy { $0 == Self.uid }, "\(uidLine)")
        // ...in namespaces of its own, the user namespace included.
        for ns in ["user", "mnt", "pid", "uts", "net", "ipc"] {
            let mine = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/" + ns)
            let its = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/" + ns)
            #expect(mine != its, "\(ns) namespace is the host's")
        }
        var logs = try box.run(["logs", "rl"], as: Self.user)
        for _ in 0..<100 where !logs.stdout.contains("busybox") {
            usleep(20_000)
            logs = try box.run(["logs", "rl"], as: Self.user)
        }
        // ...where it is root, with only the user's own UID mapped, and owns its image's files.
        #expect(logs.stdout.contains("uid=0 gid=0"), "\(logs.stdout) \(logs.stderr)")
        let map = logs.stdout.split(separator: "\n").dropFirst().first.map { $0.split(separator: " ").joined(separator: " ") }
        #expect(map == "0 \(Self.uid) 1", "\(logs.stdout)")
        #expect(logs.stdout.contains("\ninside\n"), "\(logs.stdout)")
        #expect(logs.stdout.split(separator: "\n").contains { $0.contains("/bin/busybox") && $0.split(separator: " ")[2] == "0" },
                "\(logs.stdout)")
        let ps = try box.run(["ps"], as: Self.user)
        #expect(ps.stdout.contains("rl"), "\(ps.stdout)")
        let rm = try box.run(["rm", "-f", "rl"], as: Self.user)
        #expect(rm.code == 0, "\(rm.stderr)")
        #expect(kill(pid_t(pid) ?? 0, 0) != 0, "the container's init outlived rm -f")
        #expect(box.leaks(of: id).isEmpty, "\(box.leaks(of: id))")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func whatTheContainerWritesBelongsToTheUser() throws {
        let box = sandbox()
        let volume = box.root + "/vol"
        try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
        chown(volume, 65534, 65534)
        let r = try box.run(["run", "--name", "w", "-v", volume + ":/data", "busybox", "sh", "-c",
                             "echo hi > /made && mkdir /d && touch /data/f && ls -ln /data/f"], as: Self.user)
        #expect(r.code == 0, "\(r.stderr)")
        // Root's files inside are nobody's outside: in the upper dir and through a bind.
        let id = try #require(box.containerIDs.first)
        let upper = box.root + "/containers/\(id)/upper"
        #expect(owner(upper + "/made") == Self.uid)
        #expect(owner(upper + "/d") == Self.uid)
        #expect(owner(volume + "/f") == Self.uid)
        #expect(r.stdout.split(separator: " ").dropFirst(2).first == "0", "inside, /data/f is root's: \(r.stdout)")
        let diff = try box.run(["diff", "w"], as: Self.user)
        #expect(diff.stdout.contains("A /made"), "\(diff.stdout) \(diff.stderr)")
        #expect(try box.run(["rm", "w"], as: Self.user).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func runRemoveAndStopLeaveNothing() throws {
        let box = sandbox()
        let r = try box.run(["run", "--rm", "busybox", "id", "-u"], as: Self.user)
        #expect(r.code == 0 && r.out == "0", "\(r.stdout) \(r.stderr)")
        let code = try box.run(["run", "--rm", "busybox", "sh", "-c", "exit 3"], as: Self.user)
        #expect(code.code == 3, "\(code.stderr)")
        let d = try box.run(["run", "-d", "--name", "s", "busybox", "sleep", "30"], as: Self.user)
        #expect(d.code == 0, "\(d.stderr)")
        let stop = try box.run(["stop", "-t", "1", "s"], as: Self.user)
        #expect(stop.code == 0, "\(stop.stderr)")
        let ps = try box.run(["ps", "-a"], as: Self.user)
        #expect(ps.stdout.contains("Exited"), "\(ps.stdout)")
        #expect(try box.run(["rm", "s"], as: Self.user).code == 0)
        #expect(box.containerIDs.isEmpty)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
        // The overlay and the rest lived in the container's mount namespace only.
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mounts.contains(box.root), "a mount under \(box.root) is left")
    }

    @Test func aTerminalWorksRootless() throws {
        let box = sandbox()
        // devpts without gid=5 (not mapped); the monitor logs what the terminal prints.
        let r = try box.run(["run", "-d", "-t", "--name", "t", "busybox", "sh", "-c", "tty; ls -n /dev/pts/ptmx"], as: Self.user)
        #expect(r.code == 0, "\(r.stderr)")
        var logs = try box.run(["logs", "t"], as: Self.user)
        for _ in 0..<100 where !logs.stdout.contains("ptmx") {
            usleep(20_000)
            logs = try box.run(["logs", "t"], as: Self.user)
        }
        #expect(logs.stdout.contains("/dev/pts/0") && logs.stdout.contains("ptmx"), "\(logs.stdout) \(logs.stderr)")
        #expect(try box.run(["rm", "-f", "t"], as: Self.user).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func limitsAreRefusedWithoutCgroups() throws {
        let box = sandbox()
        for flags in [["--memory", "64m"], ["--pids-limit", "20"], ["--cpus", "0.5"]] {
            let r = try box.run(["run", "--rm"] + flags + ["busybox", "true"], as: Self.user)
            #expect(r.code == 125, "\(flags): \(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("cannot apply \(flags[0]) rootless"), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "nothing pulled first: \(r.stderr)")
        }
        #expect(box.containerIDs.isEmpty)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func execWorksAndWhatNeedsRootSaysSo() throws {
        let box = sandbox()
        let other = try box.run(["run", "--rm", "--user", "1000", "busybox", "true"], as: Self.user)
        #expect(other.code == 125 && other.stderr.contains("maps only root"), "\(other.stderr)")
        let started = try box.run(["run", "-d", "--name", "e", "busybox", "sleep", "30"], as: Self.user)
        #expect(started.code == 0, "\(started.stderr)")
        // exec joins the container's user namespace first, as root inside.
        let exec = try box.run(["exec", "e", "sh", "-c", "id -u; touch /from-exec"], as: Self.user)
        #expect(exec.code == 0 && exec.out == "0", "\(exec.stdout) \(exec.stderr)")
        let id = try #require(box.containerIDs.first)
        #expect(owner(box.root + "/containers/\(id)/upper/from-exec") == Self.uid)
        #expect(try box.run(["exec", "e", "false"], as: Self.user).code == 1)
        let execUser = try box.run(["exec", "-u", "5", "e", "true"], as: Self.user)
        #expect(execUser.code == 125 && execUser.stderr.contains("maps only root"), "\(execUser.stderr)")
        let probes = try box.run(["doctor", "--probes"], as: Self.user)
        #expect(probes.code != 0 && probes.stderr.contains("escape probes needs root"), "\(probes.stdout) \(probes.stderr)")
        _ = try box.run(["rm", "-f", "e"], as: Self.user)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func layersWithWhiteoutsAndOpaqueDirectoriesWorkRootless() throws {
        let box = sandbox()
        defer { box.cleanUp() }
        let context = try box.buildContext(owner: (65534, 65534), files: ["Dockerfile": """
            FROM busybox AS changed
            RUN mkdir -p /srv/a && touch /srv/a/old
            RUN rm /bin/ls && rm -rf /srv/a && mkdir /srv/a && touch /srv/a/new
            FROM busybox
            COPY --from=changed /srv/a /copy
            """])
        // A whiteout is a 0/0 character device, which a plain user may make
        // (Linux 5.8); the opaque mark is user.overlay.opaque, which its overlay reads.
        let changed = try box.run(["build", "--target", "changed", "-t", "changed", context], timeout: 120, as: Self.user)
        #expect(changed.code == 0, "\(changed.stdout) \(changed.stderr)")
        let r = try box.run(["run", "--rm", "changed", "sh", "-c", "ls /srv/a; ls /bin/ls || echo no-ls"], as: Self.user)
        #expect(r.code == 0 && r.stdout.split(separator: "\n") == ["new", "no-ls"], "\(r.stdout) \(r.stderr)")
        // COPY --from reads the unpacked layers as overlay stacks them.
        let copied = try box.run(["build", "-t", "copied", context], timeout: 120, as: Self.user)
        #expect(copied.code == 0, "\(copied.stdout) \(copied.stderr)")
        let c = try box.run(["run", "--rm", "copied", "ls", "/copy"], as: Self.user)
        #expect(c.code == 0 && c.out == "new", "\(c.stdout) \(c.stderr)")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func doctorSaysWhatWorksRootless() throws {
        let box = sandbox()
        let r = try box.run(["doctor"], as: Self.user)
        let line = r.stdout.split(separator: "\n").first { $0.hasPrefix("ok   rootless:") }.map(String.init) ?? ""
        #expect(line.contains("skiff run works without sudo"), "\(r.stdout)")
        #expect(line.contains("--memory, --pids-limit and --cpus are refused"), "\(r.stdout)")
        #expect(line.contains(box.root), "\(r.stdout)")
    }
}
