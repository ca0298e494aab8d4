import Foundation
import Testing

@Suite("skiff run on the real runtime", .enabled(if: isRoot, rootReason))
struct RunTests {
    @Test func commandRunsAsPIDOneWithOwnHostnameAndEnv() throws {
        let box = Sandbox()
        let r = try box.run(["run", "--rm", "--hostname", "shop-1", "-e", "GREETING=hello world", "busybox",
                             "sh", "-c", "echo pid=$$; hostname; cat /etc/hostname; echo \"$GREETING\""])
        #expect(r.code == 0, "stderr: \(r.stderr)")
        #expect(r.stdout == "pid=1\nshop-1\nshop-1\nhello world\n")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func everyNamespaceButUserDiffersFromTheHost() throws {
        let box = Sandbox()
        let types = ["pid", "mnt", "uts", "ipc", "net", "cgroup"]
        let script = types.map { "readlink /proc/self/ns/\($0)" }.joined(separator: "; ")
        let r = try box.run(["run", "--rm", "busybox", "sh", "-c", script + "; readlink /proc/self/ns/user"])
        #expect(r.code == 0, "stderr: \(r.stderr)")
        let inside = r.stdout.split(separator: "\n").map(String.init)
        #expect(inside.count == types.count + 1)
        for (i, type) in types.enumerated() where i < inside.count {
            let host = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(type)")
            #expect(inside[i].hasPrefix(type + ":["))
            #expect(inside[i] != host, "\(type) namespace is the host's")
        }
        let hostUser = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/user")
        #expect(inside.last == hostUser, "no user namespace yet: user is shared")
    }

    @Test func rootIsTheOverlayWithProcDevAndReadOnlySys() throws {
        let box = Sandbox()
        let r = try box.run(["run", "--rm", "busybox", "sh", "-c",
                             "grep ' / ' /proc/self/mountinfo; ls /dev; touch /sys/x 2>&1; ip link 2>/dev/null | grep -c UP; cat /proc/1/cmdline | tr '\\0' ' '"])
        #expect(r.code == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("overlay"))
        #expect(r.stdout.contains("lowerdir="))
        for node in ["null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "stdin", "stdout", "stderr", "ptmx", "fd"] {
            #expect(r.stdout.contains("\n\(node)\n") || r.stdout.contains("\(node)\n"), "missing /dev/\(node)")
        }
        #expect(r.stdout.contains("Read-only file system"))
        #expect(r.stdout.contains("sh -c"))
    }

    @Test func theContainerInheritsOnlyStdio() throws {
        let box = Sandbox()
        // A caller that leaves descriptor 7 open runs a foreground container
        // (the CLI hands itself over to the monitor). PID 1, a shell using
        // only builtins, looks for any descriptor beyond stdio.
        let script = "for f in 3 4 5 6 7 8 9 10 11 12; do [ -e /proc/$$/fd/$f ] && echo leaked $f; done; echo checked"
        let r = try box.run(["run", "--rm", "busybox", "sh", "-c", script], extraFD: true)
        #expect(r.stdout == "checked\n", "stderr: \(r.stderr)")
    }

    @Test func loopbackIsUpAndNothingElseExists() throws {
        let box = Sandbox()
        let r = try box.run(["run", "--rm", "busybox", "sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/operstate; ping -c 1 -W 1 127.0.0.1 >/dev/null && echo ping-ok"])
        #expect(r.code == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.hasPrefix("lo\n"))
        #expect(r.stdout.contains("ping-ok"))
    }

    @Test func exitCodeOfTheCommandIsPassedThrough() throws {
        let box = Sandbox()
        #expect(try box.run(["run", "--rm", "busybox", "sh", "-c", "exit 42"]).code == 42)
        #expect(try box.run(["docker", "run", "--rm", "busybox", "false"]).code == 1)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func bindMountReadOnlyCannotBeWritten() throws {
        let box = Sandbox()
        let host = box.root + "-data"
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: host) }
        try "from the host\n".write(toFile: host + "/note", atomically: true, encoding: .utf8)
        let r = try box.run(["run", "--rm", "-v", "\(host):/data:ro", "busybox", "sh", "-c",
                             "cat /data/note; echo changed > /data/note || echo refused; touch /data/new || echo refused"])
        #expect(r.code == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.hasPrefix("from the host\n"))
        #expect(r.stdout.components(separatedBy: "refused").count == 3)
        #expect(try String(contentsOfFile: host + "/note", encoding: .utf8) == "from the host\n")
        #expect(!FileManager.default.fileExists(atPath: host + "/new"))
        let rw = try box.run(["run", "--rm", "-v", "\(host):/data", "-w", "/data", "busybox", "sh", "-c", "pwd; echo hi > out"])
        #expect(rw.stdout == "/data\n")
        #expect(try String(contentsOfFile: host + "/out", encoding: .utf8) == "hi\n")
    }

    @Test func stdinIsPassedWithInteractive() throws {
        let box = Sandbox()
        let r = try box.run(["run", "--rm", "-i", "busybox", "tr", "a-z", "A-Z"], stdin: "shout\n")
        #expect(r.stdout == "SHOUT\n", "stderr: \(r.stderr)")
    }

    @Test func imageIsMadeOfflineAndListed() throws {
        let box = Sandbox()
        let pull = try box.run(["pull", "busybox"])
        #expect(pull.code == 0, "stderr: \(pull.stderr)")
        let images = try box.run(["images"])
        #expect(images.code == 0)
        let lines = images.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("REPOSITORY") == true)
        #expect(lines.contains { $0.hasPrefix("busybox") && $0.contains("latest") })
    }
}
