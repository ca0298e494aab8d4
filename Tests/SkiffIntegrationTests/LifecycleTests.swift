import Foundation
import Testing

@Suite("container lifecycle", .enabled(if: isRoot, rootReason))
struct LifecycleTests {
    @Test func detachLogsStopStartRemove() throws {
        let box = Sandbox()
        let name = "life-\(UUID().uuidString.prefix(6))"
        let run = try box.run(["run", "-d", "--name", name, "busybox", "sh", "-c",
                               "echo started; echo oops >&2; trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done"])
        #expect(run.code == 0, "stderr: \(run.stderr)")
        let id = run.out
        #expect(id.count == 64 && id.allSatisfy(\.isHexDigit))

        let ps = try box.run(["ps"])
        #expect(ps.stdout.contains(String(id.prefix(12))))
        #expect(ps.stdout.contains("Up "))
        #expect(try box.run(["ps", "-q"]).out == String(id.prefix(12)))

        // logs -f follows until the container stops.
        usleep(300_000)
        let follower = Thread { _ = try? box.run(["stop", "-t", "5", name]) }
        let logs: Sandbox.Result
        do {
            usleep(200_000)
            follower.start()
            logs = try box.run(["logs", "-f", name], timeout: 20)
        }
        #expect(logs.stdout == "started\nbye\n", "stdout: \(logs.stdout)")
        #expect(logs.stderr == "oops\n")
        while follower.isExecuting { usleep(10_000) }

        let stopped = try box.run(["ps", "-a"])
        #expect(stopped.stdout.contains("Exited (0)"), "\(stopped.stdout)")
        #expect(try box.run(["ps", "-q"]).out.isEmpty)

        // start again by unique prefix: same container, same log file.
        #expect(try box.run(["start", String(id.prefix(5))]).code == 0)
        usleep(300_000)
        // The last two lines: "started" on stdout, "oops" on stderr.
        let again = try box.run(["logs", "--tail", "2", "-t", name])
        #expect(again.stdout.hasSuffix(" started\n"), "\(again.stdout)")
        #expect(again.stdout.hasPrefix("20"))
        #expect(again.stderr.hasSuffix(" oops\n"), "\(again.stderr)")
        #expect(try box.run(["rm", name]).code == 1, "a running container is not removed without -f")
        #expect(try box.run(["rm", "-f", name]).code == 0)
        #expect(box.leaks(of: id).isEmpty, "\(box.leaks(of: id))")
        #expect(try box.run(["ps", "-a", "-q"]).out.isEmpty)
    }

    @Test func execJoinsTheRunningContainer() throws {
        let box = Sandbox()
        let name = "exec-\(UUID().uuidString.prefix(6))"
        #expect(try box.run(["run", "-d", "--name", name, "--hostname", "inside", "-e", "A=1", "busybox", "sleep", "30"]).code == 0)
        let r = try box.run(["exec", "-e", "B=2", "-w", "/tmp", name, "sh", "-c", "hostname; echo $A$B; pwd; ps -o pid,comm | grep -c sleep"])
        #expect(r.stdout == "inside\n12\n/tmp\n1\n", "stdout: \(r.stdout) stderr: \(r.stderr)")
        #expect(try box.run(["exec", name, "sh", "-c", "exit 7"]).code == 7)
        #expect(try box.run(["exec", name, "nosuchcommand"]).code == 127)
        #expect(try box.run(["rm", "-f", name]).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func killAndRestart() throws {
        let box = Sandbox()
        let name = "kill-\(UUID().uuidString.prefix(6))"
        #expect(try box.run(["run", "-d", "--name", name, "busybox", "sh", "-c", "trap 'exit 3' USR1; echo ready; while true; do sleep 0.1; done"]).code == 0)
        // Signal only once the trap is set (the container says so).
        for _ in 0..<100 where !(try box.run(["logs", name]).stdout.contains("ready")) { usleep(50_000) }
        #expect(try box.run(["kill", "-s", "USR1", name]).code == 0)
        #expect(try box.run(["wait", name]).out == "3")
        #expect(try box.run(["restart", "-t", "1", name]).code == 0)
        #expect(try box.run(["ps", "-q"]).out.count == 12)
        #expect(try box.run(["kill", name]).code == 0)
        let killed = try box.run(["wait", name])
        #expect(killed.out == "137", "\(killed)")
        #expect(try box.run(["kill", name]).code == 1, "killing a stopped container is an error")
        #expect(try box.run(["rm", name]).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func diffShowsTheWritableLayer() throws {
        let box = Sandbox()
        let name = "diff-\(UUID().uuidString.prefix(6))"
        #expect(try box.run(["run", "--name", name, "busybox", "sh", "-c", "echo x > /tmp/new; rm /bin/vi; echo y >> /etc/passwd"]).code == 0)
        let r = try box.run(["diff", name])
        let lines = Set(r.stdout.split(separator: "\n").map(String.init))
        #expect(lines.contains("A /tmp/new"), "\(r.stdout)")
        #expect(lines.contains("C /tmp"))
        #expect(lines.contains("D /bin/vi"))
        #expect(lines.contains("C /etc/passwd"))
        #expect(try box.run(["rm", name]).code == 0)
    }

    @Test func detachedAutoRemoveCleansUpByItself() throws {
        let box = Sandbox()
        let r = try box.run(["run", "-d", "--rm", "busybox", "sh", "-c", "sleep 0.2"])
        #expect(r.code == 0)
        var waited = 0
        while !box.containerIDs.isEmpty && waited < 100 { usleep(50_000); waited += 1 }
        #expect(box.containerIDs.isEmpty)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func anRmContainersDirectoryIsReusedEmptiedByTheNext() throws {
        let box = Sandbox()
        let first = try box.run(["run", "--rm", "busybox", "sh", "-c", "echo secret > /tmp/left; hostname"])
        #expect(first.code == 0, "\(first.stderr)")
        // Its directory waits as a spare once the background remover is done.
        var waited = 0
        let trash = box.root + "/tmp"
        func spares() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: trash)) ?? []).filter { $0.hasPrefix("spare-") }
        }
        while spares().isEmpty && waited < 100 { usleep(20_000); waited += 1 }
        #expect(spares().count == 1)
        let second = try box.run(["run", "--rm", "busybox", "sh", "-c", "cat /tmp/left 2>&1; hostname; cat /etc/hostname"])
        #expect(second.code == 0, "\(second.stderr)")
        let lines = second.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3 && lines[0].contains("No such file"), "\(second.stdout)")
        #expect(lines.count == 3 && lines[1] != first.stdout.trimmingCharacters(in: .whitespacesAndNewlines) && lines[1] == lines[2])
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func anRmContainersMountsGoJustAfterRunReturnsAndExplainSaysSo() throws {
        let box = Sandbox()
        let name = "late-\(UUID().uuidString.prefix(6))"
        #expect(try box.run(["run", "-d", "--rm", "--name", name, "busybox", "sleep", "30"]).code == 0)
        #expect(try box.run(["explain", name]).stdout.contains("--rm: once it exits, its mounts go after `run` has its exit code"))
        #expect(try box.run(["rm", "-f", name]).code == 0)
        // The monitor holds the mount namespace of an --rm container until it
        // has reported the exit, then lets go: nothing may keep it after.
        let run = try box.run(["run", "--rm", "busybox", "readlink", "/proc/self/ns/mnt"])
        #expect(run.code == 0 && run.out.hasPrefix("mnt:["), "\(run.stdout) \(run.stderr)")
        let held = try box.shell("""
            i=0
            while [ $i -lt 100 ]; do
              found=""
              for p in /proc/[0-9]*; do [ "$(readlink $p/ns/mnt 2>/dev/null)" = "\(run.out)" ] && found=$p; done
              [ -z "$found" ] && { echo gone; exit 0; }
              sleep 0.05; i=$((i+1))
            done
            echo "held by $found"
            """)
        #expect(held.out == "gone", "\(held.stdout)")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func aHostDirectoryBoundIntoAnRmContainerIsFreeWhenRunReturns() throws {
        let box = Sandbox()
        // Its mounts are not held past the exit report: a script may
        // unmount the disk it bound in right after `run` returns.
        let disk = box.root + "/disk"
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        let result = try box.shell("""
            mount -t tmpfs none \(disk) || exit 9
            for i in 1 2 3; do "$0" run --rm -v \(disk):/d busybox sh -c 'echo x > /d/f' || echo run-failed; done
            if umount \(disk); then echo freed; else umount -l \(disk); echo busy; fi
            """)
        #expect(result.out == "freed", "\(result.stdout) \(result.stderr)")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func inspectAndExplainShowTheKernelObjects() throws {
        let box = Sandbox()
        let name = "show-\(UUID().uuidString.prefix(6))"
        #expect(try box.run(["run", "-d", "--name", name, "--memory", "64m", "busybox", "sleep", "30"]).code == 0)
        let json = try box.run(["inspect", name])
        let doc = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [[String: Any]]
        let c = doc[0]
        #expect((c["Name"] as? String) == "/" + name)
        let state = c["State"] as! [String: Any]
        #expect(state["Running"] as? Bool == true)
        #expect((state["Pid"] as? Int ?? 0) > 0)
        let graph = (c["GraphDriver"] as! [String: Any])["Data"] as! [String: String]
        #expect(graph["UpperDir"]?.hasSuffix("/upper") == true)
        let kernel = c["Kernel"] as! [String: Any]
        let namespaces = kernel["Namespaces"] as! [[String: Any]]
        #expect(namespaces.contains { $0["Type"] as? String == "net" && $0["Shared"] as? Bool == false })
        #expect(namespaces.contains { $0["Type"] as? String == "user" && $0["Shared"] as? Bool == true })
        let overlay = kernel["Overlay"] as! [String: Any]
        #expect((overlay["SuperOptions"] as? String)?.contains("upperdir=") == true)
        let hostConfig = c["HostConfig"] as! [String: Any]
        #expect(hostConfig["Memory"] as? Int == 64 * 1024 * 1024)

        let explain = try box.run(["explain", name])
        #expect(explain.stdout.contains("Namespaces"))
        #expect(explain.stdout.contains("own (host:"))
        #expect(explain.stdout.contains("64 MiB"))
        #expect(explain.stdout.contains("upper"))
        #expect(try box.run(["rm", "-f", name]).code == 0)
    }
}
