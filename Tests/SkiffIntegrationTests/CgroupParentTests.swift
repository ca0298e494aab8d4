import Foundation
import Testing

/// cgroup v1's CPU hierarchy: where a parent's CFS quota can make a child's fail.
private let cpuHierarchy = "/sys/fs/cgroup/cpu"
private let hasV1CPU = FileManager.default.fileExists(atPath: cpuHierarchy + "/cpu.cfs_quota_us")

/// --cgroup-parent, and what a run leaves when the engine cannot make the
/// container's cgroups after the spawn helper already has its command line
/// (the helper clones while the engine writes the limits: see
/// docs/architecture.md, "Cgroups while cloning").
@Suite("cgroup parent", .enabled(if: isRoot, rootReason))
struct CgroupParentTests {
    /// A parent of this test's own in every v1 hierarchy skiff uses (so that
    /// parallel tests never share it), removed at the end.
    final class TestParent {
        let name = "skifftest-\(UUID().uuidString.prefix(8).lowercased())"
        let hierarchies = ["memory", "pids", "cpu", "devices"].map { "/sys/fs/cgroup/" + $0 }
            .filter { FileManager.default.fileExists(atPath: $0 + "/cgroup.procs") }

        func path(in hierarchy: String) -> String { hierarchy + "/" + name }

        /// The cgroups left inside the parent, in every hierarchy.
        func children() -> [String] {
            hierarchies.flatMap { base -> [String] in
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: path(in: base))) ?? []
                return entries.filter { isDirectory(path(in: base) + "/" + $0) }.map { path(in: base) + "/" + $0 }
            }
        }

        func remove() {
            for base in hierarchies { rmdir(path(in: base)) }
        }

        private func isDirectory(_ path: String) -> Bool {
            var dir: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &dir) && dir.boolValue
        }
    }

    @Test func theContainersCgroupsGoUnderTheParentWhichStays() throws {
        let box = Sandbox()
        let parent = TestParent()
        defer { parent.remove() }
        let r = try box.run(["run", "-d", "--cgroup-parent", "/" + parent.name + "/", "--pids-limit", "33",
                             "busybox", "sleep", "30"])
        #expect(r.code == 0, "\(r.stderr)")
        let id = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let pids = "/sys/fs/cgroup/pids/\(parent.name)/\(id)/pids.max"
        #expect((try? String(contentsOfFile: pids, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == "33")
        let inspect = try box.run(["inspect", id])
        #expect(inspect.stdout.contains("/\(parent.name)/\(id)"))
        #expect(try box.run(["rm", "-f", id]).code == 0)
        #expect(parent.children().isEmpty, "\(parent.children())")
        // Not ours: it stays after the container (and after two seconds,
        // when the shared skiff/ parent would go).
        sleep(3)
        #expect(parent.hierarchies.allSatisfy { FileManager.default.fileExists(atPath: parent.path(in: $0)) })
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test(arguments: ["", "a/../b", "./x", "a,b"])
    func aBadParentIsAUsageError(_ text: String) throws {
        let box = Sandbox()
        let r = try box.run(["run", "--rm", "--cgroup-parent", text, "busybox", "true"])
        #expect(r.code == 125)
        #expect(r.stderr.contains("--cgroup-parent"), "\(r.stderr)")
        #expect(box.containerIDs.isEmpty)
    }

    /// The kernel refuses a child's CFS quota above its parent's: here the
    /// engine's limit write fails after the standby helper has cloned the
    /// container's init. The run fails with the kernel's reason, and nothing
    /// stays: no container, no cgroup, no mount, no helper.
    @Test(.enabled(if: hasV1CPU, "needs cgroup v1's cpu hierarchy (CFS quotas per parent)"))
    func aLimitTheKernelRefusesLeavesNothingBehind() throws {
        let box = Sandbox()
        let parent = TestParent()
        defer { parent.remove() }
        let cpu = parent.path(in: cpuHierarchy)
        try FileManager.default.createDirectory(atPath: cpu, withIntermediateDirectories: false)
        try "10000".write(toFile: cpu + "/cpu.cfs_quota_us", atomically: false, encoding: .utf8)  // 0.1 CPU
        try box.run(["pull", "busybox"])

        let r = try box.run(["run", "--rm", "--cgroup-parent", parent.name, "--cpus", "1", "busybox", "true"])
        #expect(r.code == 125)
        #expect(r.stderr.contains("cpu.cfs_quota_us"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(box.containerIDs.isEmpty)
        #expect(parent.children().isEmpty, "\(parent.children())")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
        let helpers = try box.shell("ps -eo args | grep -c '[s]kiff-spawn.*\(box.root)' || true")
        #expect(helpers.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(helpers.stdout)")
    }
}
