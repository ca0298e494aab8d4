import Foundation
import Testing

@Suite("cgroup limits, enforced for real", .enabled(if: isRoot, rootReason))
struct LimitTests {
    struct Inspected: Decodable {
        struct Kernel: Decodable {
            struct Cgroups: Decodable {
                struct File: Decodable { var path: String; var value: String }
                var Version: String
                var Directories: [String]
                var Files: [File]
            }
            var Cgroups: Cgroups
        }
        struct State: Decodable { var Status: String; var ExitCode: Int; var OOMKilled: Bool; var Pid: Int }
        var Id: String
        var State: State
        var Kernel: Kernel
    }

    func inspect(_ box: Sandbox, _ name: String) throws -> Inspected {
        let r = try box.run(["inspect", name])
        #expect(r.code == 0, "stderr: \(r.stderr)")
        return try JSONDecoder().decode([Inspected].self, from: Data(r.stdout.utf8))[0]
    }

    @Test func limitFilesHoldTheValuesAsked() throws {
        let box = Sandbox()
        let name = "limits-\(UUID().uuidString.prefix(6))"
        let r = try box.run(["run", "-d", "--name", name, "--memory", "48m", "--pids-limit", "20", "--cpus", "0.5",
                             "busybox", "sleep", "30"])
        #expect(r.code == 0, "stderr: \(r.stderr)")
        let info = try inspect(box, name)
        #expect(info.State.Status == "running")
        let values = Dictionary(info.Kernel.Cgroups.Files.map { (($0.path as NSString).lastPathComponent, $0.value) },
                                uniquingKeysWith: { a, _ in a })
        if info.Kernel.Cgroups.Version == "v1" {
            #expect(values["memory.limit_in_bytes"] == "50331648")
            #expect(values["pids.max"] == "20")
            #expect(values["cpu.cfs_quota_us"] == "50000")
            #expect(values["cpu.cfs_period_us"] == "100000")
        } else {
            #expect(values["memory.max"] == "50331648")
            #expect(values["pids.max"] == "20")
            #expect(values["cpu.max"] == "50000 100000")
        }
        // The files are the kernel's own, not a copy.
        for file in info.Kernel.Cgroups.Files where file.path.hasSuffix("pids.max") {
            #expect(try String(contentsOfFile: file.path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == "20")
        }
        // Inside, the cgroup namespace shows the container's cgroup as the root.
        let cg = try box.run(["exec", name, "cat", "/proc/self/cgroup"])
        #expect(cg.stdout.split(separator: "\n").allSatisfy { $0.hasSuffix(":/") }, "\(cg.stdout)")
        #expect(try box.run(["rm", "-f", name]).code == 0)
        #expect(box.leaks(of: info.Id).isEmpty, "\(box.leaks(of: info.Id))")
        for dir in info.Kernel.Cgroups.Directories { #expect(!FileManager.default.fileExists(atPath: dir)) }
    }

    @Test func memoryHogIsKilledInsideItsCgroup() throws {
        let box = Sandbox()
        let name = "hog-\(UUID().uuidString.prefix(6))"
        // dd allocates a 256 MiB block buffer and fills it: far over 32 MiB.
        let r = try box.run(["run", "--name", name, "--memory", "32m", "busybox",
                             "dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"])
        #expect(r.code == 137, "exit \(r.code), stderr: \(r.stderr)")
        let info = try inspect(box, name)
        #expect(info.State.Status == "exited")
        #expect(info.State.ExitCode == 137)
        #expect(info.State.OOMKilled)
        #expect(kill(getpid(), 0) == 0, "the host side is untouched")
        #expect(try box.run(["rm", name]).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func forkBombStopsAtThePidsLimit() throws {
        let box = Sandbox()
        let name = "bomb-\(UUID().uuidString.prefix(6))"
        let r = try box.run(["run", "-d", "--name", name, "--pids-limit", "16", "busybox", "sh", "-c",
                             "bomb() { bomb | bomb & }; bomb & exec sleep 30"])
        // PID 1 becomes sleep with no fork of its own: it stays up however full the cgroup is.
        #expect(r.code == 0, "stderr: \(r.stderr)")
        usleep(1_500_000)
        let info = try inspect(box, name)
        let pidsDir = info.Kernel.Cgroups.Directories.first { $0.contains("pids") } ?? info.Kernel.Cgroups.Directories.first ?? ""
        let current = Int((try? String(contentsOfFile: pidsDir + "/pids.current", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1
        #expect(current > 0 && current <= 16, "pids.current = \(current)")
        let events = (try? String(contentsOfFile: pidsDir + "/pids.events", encoding: .utf8)) ?? ""
        #expect(events.contains("max") && !events.contains("max 0"), "the limit was hit: \(events)")
        #expect(try box.run(["rm", "-f", name]).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }
}
