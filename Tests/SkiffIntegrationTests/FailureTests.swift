import Foundation
import Testing

/// Bad input: one clear line, Docker's exit code, and nothing left behind.
@Suite("failures leave nothing behind", .enabled(if: isRoot, rootReason))
struct FailureTests {
    @Test func unknownCommandIs127() throws {
        let box = Sandbox()
        try box.run(["pull", "busybox"])
        let r = try box.run(["run", "--name", "nocmd", "busybox", "no-such-command"])
        #expect(r.code == 127)
        #expect(r.stderr.contains("executable file not found"))
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(box.containerIDs.isEmpty)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func notExecutableIs126() throws {
        let box = Sandbox()
        let r = try box.run(["run", "--rm", "busybox", "/etc/passwd"])
        #expect(r.code == 126, "\(r.stderr)")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func unknownImageIs125() throws {
        let box = Sandbox()
        let r = try box.run(["run", "--rm", "no-such-image", "true"])
        #expect(r.code == 125)
        #expect(r.stderr.contains("no-such-image"))
        #expect(box.containerIDs.isEmpty)
    }

    @Test func badFlagIs125() throws {
        let box = Sandbox()
        let r = try box.run(["run", "--no-such-flag", "busybox", "true"])
        #expect(r.code == 125)
        #expect(r.stderr.contains("no-such-flag"))
        #expect(try box.run(["run", "--memory", "lots", "busybox", "true"]).code == 125)
        #expect(try box.run(["run", "--memory", "1m", "busybox", "true"]).code == 125)
        #expect(try box.run(["run", "--cpus", "99", "busybox", "true"]).code == 125)
        #expect(try box.run(["run", "-v", "relative:/x", "busybox", "true"]).code == 125)
        #expect(box.containerIDs.isEmpty)
    }

    @Test func takenNameIsRefused() throws {
        let box = Sandbox()
        #expect(try box.run(["create", "--name", "twin", "busybox", "true"]).code == 0)
        let r = try box.run(["run", "--name", "twin", "busybox", "true"])
        #expect(r.code == 125)
        #expect(r.stderr.contains("already in use"))
        #expect(box.containerIDs.count == 1)
        #expect(try box.run(["rm", "twin"]).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func ambiguousPrefixIsAnError() throws {
        let box = Sandbox()
        var ids: [String] = []
        for _ in 0..<20 { ids.append(try box.run(["create", "busybox", "true"]).out) }
        // Twenty random IDs over 16 first digits: some first digit repeats.
        let first = Dictionary(grouping: ids, by: { $0.prefix(1) }).first { $0.value.count > 1 }!.key
        let r = try box.run(["inspect", String(first)])
        #expect(r.code == 1)
        #expect(r.stderr.contains("multiple IDs found with provided prefix"))
        #expect(try box.run(["rm", "nosuchcontainer"]).stderr.contains("No such container"))
        #expect(try box.run(["rm"] + ids).code == 0)
        #expect(box.allLeaks().isEmpty)
    }

    /// A plain user runs rootless (RootlessTests), but not in root's state root.
    @Test func anotherUsersStateRootIsOneClearLine() throws {
        let box = Sandbox()
        try box.run(["pull", "busybox"])
        chmod(box.root, 0o777)
        let r = try box.run(["run", "--rm", "busybox", "true"], as: "65534")
        #expect(r.code == 125)
        #expect(r.stderr.contains("Permission denied"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }

    @Test func startupFailureAfterCgroupsRemovesThem() throws {
        let box = Sandbox()
        // The working directory cannot be made: a file stands in its way.
        let r = try box.run(["run", "--name", "badwd", "-w", "/etc/passwd/sub", "busybox", "true"])
        #expect(r.code != 0)
        #expect(box.containerIDs.isEmpty)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func crashedMonitorIsCleanedUpByRmF() throws {
        let box = Sandbox()
        let id = try box.run(["run", "-d", "busybox", "sleep", "30"]).out
        let pidLine = try String(contentsOfFile: box.root + "/containers/\(id)/pid", encoding: .utf8)
        let fields = pidLine.split(separator: " ")
        let monitor = Int32(fields[2])!
        kill(monitor, SIGKILL)  // the monitor dies; the container lives on
        usleep(100_000)
        #expect(try box.run(["rm", "-f", id]).code == 0)
        #expect(box.leaks(of: id).isEmpty, "\(box.leaks(of: id))")
        #expect(kill(Int32(fields[0])!, 0) != 0, "the container's process is gone")
    }
}
