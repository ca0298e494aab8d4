import Foundation
import Testing

/// seccomp, --security-opt, --user and --ulimit on real containers.
@Suite("seccomp, users and ulimits", .enabled(if: isRoot, rootReason))
struct SecurityOptionTests {
    func statusField(_ text: String, _ name: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map {
            $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
        }
    }

    @Test func theDefaultFilterRefusesNamespacesAndKeys() throws {
        let box = Sandbox()
        let script = """
            grep -E '^Seccomp' /proc/1/status
            unshare -U true 2>&1 || echo unshare-refused
            unshare -m true 2>&1 || echo mount-ns-refused
            echo done
            """
        let r = try box.run(["run", "--rm", "busybox", "sh", "-c", script])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(statusField(r.stdout, "Seccomp") == "2", "\(r.stdout)")
        #expect(statusField(r.stdout, "Seccomp_filters") == "1", "\(r.stdout)")
        #expect(r.stdout.contains("unshare-refused"), "\(r.stdout)")
        #expect(r.stdout.contains("Operation not permitted"), "\(r.stdout)")
        #expect(r.stdout.contains("mount-ns-refused"))
        #expect(r.stdout.hasSuffix("done\n"))
    }

    @Test func unconfinedHasNoFilterAndTheSameCallGetsFurther() throws {
        let box = Sandbox()
        let r = try box.run(["run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "sh", "-c",
                             "grep -E '^Seccomp:' /proc/1/status; unshare -U true && echo userns-made"])
        #expect(statusField(r.stdout, "Seccomp") == "0", "\(r.stdout)")
        // A user namespace needs no capability: only the filter stood in the way.
        #expect(r.stdout.contains("userns-made"), "\(r.stdout) \(r.stderr)")
    }

    @Test func privilegedTurnsSeccompAndNoNewPrivsOff() throws {
        let box = Sandbox()
        let r = try box.run(["run", "--rm", "--privileged", "busybox", "grep", "-E", "^(Seccomp|NoNewPrivs):", "/proc/1/status"])
        #expect(statusField(r.stdout, "Seccomp") == "0", "\(r.stdout)")
        #expect(statusField(r.stdout, "NoNewPrivs") == "0", "\(r.stdout)")
        let forced = try box.run(["run", "--rm", "--privileged", "--security-opt", "no-new-privileges",
                                  "busybox", "grep", "NoNewPrivs", "/proc/1/status"])
        #expect(statusField(forced.stdout, "NoNewPrivs") == "1", "\(forced.stdout)")
        // Without no_new_privs the filter is loaded while CAP_SYS_ADMIN is still held, and still applies.
        let off = try box.run(["run", "--rm", "--security-opt", "no-new-privileges=false", "busybox",
                               "grep", "-E", "^(Seccomp|NoNewPrivs):", "/proc/1/status"])
        #expect(statusField(off.stdout, "NoNewPrivs") == "0", "\(off.stdout) \(off.stderr)")
        #expect(statusField(off.stdout, "Seccomp") == "2", "\(off.stdout)")
    }

    @Test func aCustomProfileInDockersFormatIsEnforced() throws {
        let box = Sandbox()
        let profile = box.root + "/no-mkdir.json"
        try """
            {"defaultAction": "SCMP_ACT_ALLOW",
             "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
            """.write(toFile: profile, atomically: true, encoding: .utf8)
        let r = try box.run(["run", "--rm", "--security-opt", "seccomp=" + profile, "busybox", "sh", "-c",
                             "mkdir /made 2>&1; touch /file && echo touched"])
        #expect(r.stdout.contains("Permission denied"), "EACCES from errnoRet 13: \(r.stdout)")
        #expect(r.stdout.contains("touched"))
    }

    @Test func badProfilesAndFlagsFailWithOneLineAndLeaveNothing() throws {
        let box = Sandbox()
        let broken = box.root + "/broken.json"
        try "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [".write(toFile: broken, atomically: true, encoding: .utf8)
        let cases: [[String]] = [
            ["--security-opt", "seccomp=" + broken],
            ["--security-opt", "seccomp=/no/such/profile.json"],
            ["--security-opt", "bogus"],
            ["--ulimit", "nofile=300:200"],
            ["--ulimit", "files=10"],
            ["--user", "nosuchuser"],
            ["--user", "0:nosuchgroup"],
            ["--group-add", "nosuchgroup"],
        ]
        #expect(try box.run(["pull", "busybox"]).code == 0, "the image is there before the failures")
        for flags in cases {
            let r = try box.run(["run", "--rm", "--name", "bad-\(UUID().uuidString.prefix(6))"] + flags + ["busybox", "true"])
            #expect(r.code == 125, "\(flags): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(flags): \(r.stderr)")
            #expect(box.allLeaks().isEmpty, "\(flags): \(box.allLeaks())")
            #expect(box.containerIDs.isEmpty, "\(flags)")
        }
    }

    @Test func userSwitchesIdsAndEndsWithNoEffectiveCapabilities() throws {
        let box = Sandbox()
        let r = try box.run(["run", "--rm", "--user", "1000:1000", "busybox", "sh", "-c",
                             "id; grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status"])
        #expect(r.stdout.hasPrefix("uid=1000 gid=1000"), "\(r.stdout) \(r.stderr)")
        #expect(statusField(r.stdout, "CapEff") == "0000000000000000")
        #expect(statusField(r.stdout, "CapPrm") == "0000000000000000")
        #expect(statusField(r.stdout, "CapBnd") == ConfinementTests.dockerDefaultCaps)
        // Names come from the image's /etc/passwd; the group's members become supplementary groups.
        // Root too gets its groups from the image, never those of whoever ran skiff.
        let rootGroups = try box.run(["run", "--rm", "busybox", "grep", "^Groups:", "/proc/self/status"])
        #expect(statusField(rootGroups.stdout, "Groups") == "0", "\(rootGroups.stdout)")
        let named = try box.run(["run", "--rm", "--user", "nobody", "busybox", "sh", "-c", "id; echo $HOME"])
        #expect(named.stdout.hasPrefix("uid=65534(nobody) gid=65534(nobody)"), "\(named.stdout) \(named.stderr)")
        #expect(named.stdout.hasSuffix("\n/home\n"), "HOME comes from nobody's passwd entry: \(named.stdout)")
        let added = try box.run(["run", "--rm", "--user", "1000:1000", "--group-add", "nobody", "--group-add", "777",
                                 "busybox", "id"])
        #expect(added.out == "uid=1000 gid=1000 groups=777,1000,65534(nobody)", "\(added.stdout) \(added.stderr)")
        let unnamed = try box.run(["run", "--rm", "--user", "1234", "busybox", "sh", "-c", "echo $HOME"])
        #expect(unnamed.out == "/", "no entry: HOME=/ as runc sets it")
    }

    @Test func supplementaryGroupsAndExecUser() throws {
        let box = Sandbox()
        let name = "users-\(UUID().uuidString.prefix(6))"
        #expect(try box.run(["run", "-d", "--name", name, "busybox", "sleep", "30"]).code == 0)
        let setup = "echo 'app:x:1500:1500::/tmp:/bin/sh' >> /etc/passwd; echo 'app:x:1500:' >> /etc/group; echo 'staff:x:50:app' >> /etc/group"
        #expect(try box.run(["exec", name, "sh", "-c", setup]).code == 0)
        let r = try box.run(["exec", "--user", "app", name, "id"])
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "uid=1500(app) gid=1500(app) groups=50(staff),1500(app)",
                "\(r.stdout) \(r.stderr)")
        // exec'd processes run under the container's filter too.
        let filtered = try box.run(["exec", name, "grep", "^Seccomp:", "/proc/self/status"])
        #expect(statusField(filtered.stdout, "Seccomp") == "2", "\(filtered.stdout)")
        let numeric = try box.run(["exec", "-u", "4242", name, "id", "-u"])
        #expect(numeric.out == "4242")
        // A symlink to a host file is read inside the container's root, not the host's.
        #expect(try box.run(["exec", name, "sh", "-c", "rm /etc/passwd && ln -s /proc/1/root/../../../../etc/shadow /etc/passwd"]).code == 0)
        let refused = try box.run(["exec", "--user", "app", name, "id"])
        #expect(refused.code == 125 || refused.code == 126, "\(refused.stdout) \(refused.stderr)")
        #expect(refused.stderr.contains("unable to find user app"), "\(refused.stderr)")
        let inspect = try box.run(["inspect", name]).stdout
        #expect(inspect.contains("\"User\" : \"\""))
        _ = try box.run(["rm", "-f", name])
    }

    @Test func ulimitsReachTheProcess() throws {
        let box = Sandbox()
        let r = try box.run(["run", "--rm", "--ulimit", "nofile=100:200", "--ulimit", "core=0", "busybox", "sh", "-c",
                             "ulimit -n; ulimit -Hn; grep -E 'open files|core file' /proc/1/limits"])
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(lines.count == 4, "\(r.stdout) \(r.stderr)")
        #expect(lines.first == "100")
        #expect(lines.dropFirst().first == "200")
        #expect(lines.contains("Max open files 100 200 files"), "\(lines)")
        #expect(lines.contains("Max core file size 0 0 bytes"), "\(lines)")
    }

    @Test func inspectAndExplainShowTheSecurityOptions() throws {
        let box = Sandbox()
        let name = "secinspect-\(UUID().uuidString.prefix(6))"
        let run = try box.run(["run", "-d", "--name", name, "--user", "65534", "--ulimit", "nproc=64:128",
                               "--security-opt", "no-new-privileges", "busybox", "sleep", "30"])
        #expect(run.code == 0, "\(run.stderr)")
        let json = try box.run(["inspect", name]).stdout
        let doc = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [[String: Any]]
        let host = doc[0]["HostConfig"] as! [String: Any]
        #expect(host["SecurityOpt"] as? [String] == ["no-new-privileges"])
        let ulimits = host["Ulimits"] as? [[String: Any]]
        #expect(ulimits?.first?["Name"] as? String == "nproc")
        #expect(ulimits?.first?["Soft"] as? Int == 64)
        #expect(ulimits?.first?["Hard"] as? Int == 128)
        #expect((doc[0]["Config"] as! [String: Any])["User"] as? String == "65534")
        let security = (doc[0]["Kernel"] as! [String: Any])["Security"] as! [String: Any]
        #expect(security["Seccomp"] as? String == "filter")
        #expect(security["SeccompFilters"] as? Int == 1)
        #expect(security["SeccompProfile"] as? String == "builtin")
        let explain = try box.run(["explain", name]).stdout
        #expect(explain.contains("seccomp"), "\(explain)")
        _ = try box.run(["rm", "-f", name])
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/sys/fs/cgroup/devices/devices.list"),
                   "needs the cgroup v1 devices hierarchy"))
    func aBlockDeviceMadeWithMknodCannotBeOpened() throws {
        let box = Sandbox()
        let script = "mknod /tmp/disk b 8 0 && echo made; head -c 1 /tmp/disk 2>&1 >/dev/null; head -c 4 /dev/urandom | wc -c"
        let r = try box.run(["run", "--rm", "busybox", "sh", "-c", script])
        #expect(r.stdout.hasPrefix("made\n"), "mknod itself is allowed (c/b *:* m): \(r.stdout)")
        #expect(r.stdout.contains("Operation not permitted"), "the devices cgroup refuses the open: \(r.stdout)")
        #expect(r.stdout.hasSuffix("4\n"), "the allowed nodes still work")
        // --privileged has no allow-list: the open reaches the driver (no such disk here, or the disk itself).
        let privileged = try box.run(["run", "--rm", "--privileged", "busybox", "sh", "-c", script])
        #expect(!privileged.stdout.contains("Operation not permitted"), "\(privileged.stdout)")
    }
}
