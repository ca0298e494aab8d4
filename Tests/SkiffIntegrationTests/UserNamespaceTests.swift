import Foundation
import Testing

/// --userns=private on real containers: maps, idmapped layers, ownership
/// of what the container writes, exec, inspect, and cleanup.
@Suite("user namespaces", .enabled(if: isRoot, rootReason))
struct UserNamespaceTests {
    /// The range Skiff picks here: /etc/subuid's skiff or root entry, else the default.
    var baseUID: String {
        for owner in ["skiff", "root"] {
            let text = (try? String(contentsOfFile: "/etc/subuid", encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(owner + ":") }) {
                return String(line.split(separator: ":")[1])
            }
        }
        return "100000"
    }

    func owner(_ path: String) -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        return (attributes?[.ownerAccountID] as? NSNumber).map { "\($0)" } ?? "missing"
    }

    @Test func rootInsideIsAnUnprivilegedHostUser() throws {
        let box = Sandbox()
        let script = """
            cat /proc/self/uid_map /proc/self/gid_map
            echo uid=$(id -u) gid=$(id -g)
            ls -ln /bin/busybox /etc/passwd
            echo user-ns=$(readlink /proc/self/ns/user)
            unshare -U true 2>/dev/null || echo unshare-refused
            """
        let r = try box.run(["run", "--name", "priv", "--userns=private", "busybox", "sh", "-c", script])
        #expect(r.code == 0, "\(r.stderr)")
        let maps = r.stdout.split(separator: "\n").prefix(2).map { $0.split(separator: " ").joined(separator: " ") }
        #expect(maps == ["0 \(baseUID) 65536", "0 \(baseUID) 65536"] || maps.first?.hasPrefix("0 \(baseUID) ") == true, "\(r.stdout)")
        #expect(r.stdout.contains("uid=0 gid=0"), "\(r.stdout)")
        // Image files belong to the host's root: idmapped, they look root's inside, not nobody's.
        let listing = r.stdout.split(separator: "\n").filter { $0.contains("/bin/busybox") || $0.contains("/etc/passwd") }
        #expect(listing.count == 2 && listing.allSatisfy { $0.split(separator: " ")[2] == "0" }, "\(r.stdout)")
        let hostUserNS = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/user")) ?? "?"
        #expect(r.stdout.contains("user-ns=user:["), "\(r.stdout)")
        #expect(!r.stdout.contains("user-ns=" + hostUserNS), "\(r.stdout)")
        #expect(r.stdout.contains("unshare-refused"), "\(r.stdout)")
        let id = try #require(box.containerIDs.first)
        _ = try box.run(["rm", "priv"])
        #expect(box.leaks(of: id).isEmpty, "\(box.leaks(of: id))")
    }

    @Test func whatTheContainerWritesIsOwnedByTheHostRange() throws {
        let box = Sandbox()
        let r = try box.run(["run", "-d", "--userns=private", "busybox", "sh", "-c", "echo hi > /made; mkdir /d; sleep 30"])
        #expect(r.code == 0, "\(r.stderr)")
        let id = r.out
        let upper = box.root + "/containers/" + id + "/upper"
        for _ in 0..<250 where !FileManager.default.fileExists(atPath: upper + "/d") { usleep(20_000) }
        #expect(owner(upper + "/made") == baseUID)
        #expect(owner(upper + "/d") == baseUID)
        // exec joins the user namespace too: root there, and its files land in the same range.
        let e = try box.run(["exec", id, "sh", "-c", "id -u; touch /from-exec"])
        #expect(e.code == 0 && e.out == "0", "\(e.stdout) \(e.stderr)")
        #expect(owner(upper + "/from-exec") == baseUID)
        let inspect = try box.run(["inspect", id]).stdout
        #expect(inspect.contains("\"UsernsMode\" : \"private\"") || inspect.contains("\"UsernsMode\": \"private\""), "\(inspect)")
        #expect(inspect.contains("\"HostUID\""), "\(inspect)")
        let explain = try box.run(["explain", id]).stdout
        #expect(explain.contains("root inside is host UID \(baseUID)"), "\(explain)")
        _ = try box.run(["rm", "-f", id])
        #expect(box.leaks(of: id).isEmpty, "\(box.leaks(of: id))")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func hostIsTheDefaultAndBadValuesAreRefused() throws {
        let box = Sandbox()
        let r = try box.run(["run", "--rm", "busybox", "cat", "/proc/self/uid_map"])
        #expect(r.out.split(separator: " ").joined(separator: " ") == "0 0 4294967295", "\(r.stdout)")
        let bad = try box.run(["run", "--rm", "--userns=remap", "busybox", "true"])
        #expect(bad.code == 125)
        #expect(bad.stderr.split(separator: "\n").count == 1 && bad.stderr.contains("--userns"), "\(bad.stderr)")
        #expect(box.containerIDs.isEmpty)
    }

    @Test func doctorProbesIdmappedMountsAndSaysWhatRootlessWouldGet() throws {
        let box = Sandbox()
        let r = try box.run(["doctor"])
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let idmapped = try #require(lines.first { $0.contains("idmapped mounts:") }, "\(r.stdout)")
        #expect(idmapped.hasPrefix("ok"), "\(idmapped)")
        #expect(idmapped.contains("host UID \(baseUID)"), "\(idmapped)")
        #expect(lines.contains { $0.contains("subordinate IDs:") && $0.contains("host UID \(baseUID)") }, "\(r.stdout)")
        #expect(lines.contains { $0.contains("rootless:") && $0.contains("cgroup") }, "\(r.stdout)")
        // The probe's directory goes with it.
        let left = (try? FileManager.default.contentsOfDirectory(atPath: box.root + "/tmp")) ?? []
        #expect(!left.contains { $0.hasPrefix("idmap-probe") }, "\(left)")
    }

    @Test func commitKeepsInsideIDsAndTwoLayerImagesRunPrivate() throws {
        let box = Sandbox()
        // Replacing a directory of the image needs overlay's opaque mark (userxattr in a user namespace).
        let r = try box.run(["run", "--name", "src", "--userns=private", "busybox", "sh", "-c",
                             "echo x > /newfile; rm -rf /var && mkdir /var && touch /var/only && echo replaced"])
        #expect(r.code == 0 && r.out == "replaced", "\(r.stdout) \(r.stderr)")
        let c = try box.run(["commit", "src", "shifted:1"])
        #expect(c.code == 0, "\(c.stderr)")
        let host = try box.run(["run", "--rm", "shifted:1", "sh", "-c", "ls -ln /newfile; ls /var"])
        #expect(host.stdout.split(separator: "\n").first?.split(separator: " ")[2] == "0", "\(host.stdout)")
        #expect(host.stdout.hasSuffix("only\n"), "\(host.stdout)")
        // The committed layer marks /var opaque: the private overlay must honour it too.
        let priv = try box.run(["run", "--rm", "--userns=private", "shifted:1", "sh", "-c", "ls -ln /newfile /bin/busybox; cat /newfile; ls /var"])
        #expect(priv.code == 0, "\(priv.stderr)")
        let owners = priv.stdout.split(separator: "\n").prefix(2).map { $0.split(separator: " ")[2] }
        #expect(owners == ["0", "0"], "\(priv.stdout)")
        #expect(priv.stdout.hasSuffix("x\nonly\n"), "\(priv.stdout)")
        _ = try box.run(["rm", "src"])
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func aFailedStartInAUserNamespaceLeavesNothing() throws {
        let box = Sandbox()
        let r = try box.run(["run", "--userns=private", "--name", "bad", "busybox", "/no/such/program"])
        #expect(r.code == 127, "\(r.stderr)")
        // As with the host's namespace, a start that fails removes the container.
        #expect(box.containerIDs.isEmpty)
        let gone = try box.run(["run", "--rm", "--userns=private", "-w", "/etc/passwd", "busybox", "true"])
        #expect(gone.code != 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }
}
