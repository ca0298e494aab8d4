#if canImport(Glibc)
import Glibc
#endif
import Testing
import SkiffCommon
@testable import SkiffKernel

private let id = String(repeating: "cd", count: 32)
private let name = "skiff/" + id
private let fullLimits = ResourceLimits(memoryBytes: 64 << 20, pidsLimit: 20, nanoCpus: 500_000_000)

@Suite("cgroup v2 driver")
struct CgroupV2DriverTests {
    @Test("create enables memory, pids and cpu on the way down and writes the limits")
    func createWritesLimits() throws {
        let fixture = try CgroupFixture.v2()
        let driver = fixture.v2Driver()
        let b = fixture.base
        #expect(driver.version == .v2)
        #expect(driver.availableControllers == ["memory", "pids", "cpu"])
        try driver.create(name: name, limits: fullLimits)
        #expect(fixture.read("\(b)/cgroup.subtree_control") == "cpu memory pids")
        #expect(fixture.read("\(b)/skiff/cgroup.subtree_control") == "cpu memory pids")
        #expect(fixture.read("\(b)/\(name)/cgroup.subtree_control") == "")
        #expect(fixture.read("\(b)/\(name)/cpu.max") == "50000 100000")
        #expect(fixture.read("\(b)/\(name)/memory.max") == "67108864")
        #expect(fixture.read("\(b)/\(name)/memory.swap.max") == "0")
        #expect(fixture.read("\(b)/\(name)/pids.max") == "20")
        #expect(driver.limitFiles(for: name) == [
            CgroupFileValue(path: "\(b)/\(name)/memory.max", value: "67108864"),
            CgroupFileValue(path: "\(b)/\(name)/memory.swap.max", value: "0"),
            CgroupFileValue(path: "\(b)/\(name)/memory.current", value: "0"),
            CgroupFileValue(path: "\(b)/\(name)/pids.max", value: "20"),
            CgroupFileValue(path: "\(b)/\(name)/pids.current", value: "0"),
            CgroupFileValue(path: "\(b)/\(name)/cpu.max", value: "50000 100000"),
        ])
        try driver.remove(name: name)
        #expect(fixture.skiffDirectories().isEmpty)
    }

    @Test("controllers already enabled are not written again")
    func alreadyEnabled() throws {
        let fixture = try CgroupFixture.v2()
        let driver = fixture.v2Driver()
        try driver.create(name: "skiff/a", limits: fullLimits)
        let before = fixture.writes.filter { $0.contains("subtree_control") }.count
        try driver.create(name: "skiff/b", limits: fullLimits)
        #expect(fixture.writes.filter { $0.contains("subtree_control") }.count == before)
        try driver.remove(name: "skiff/a")
        try driver.remove(name: "skiff/b")
    }

    @Test("unset limits stay at the kernel's defaults; pids 0 writes max")
    func unlimited() throws {
        let fixture = try CgroupFixture.v2()
        let driver = fixture.v2Driver()
        try driver.create(name: name, limits: ResourceLimits(pidsLimit: 0))
        #expect(fixture.read("\(fixture.base)/\(name)/pids.max") == "max")
        #expect(fixture.read("\(fixture.base)/\(name)/memory.max") == "max")
        #expect(fixture.read("\(fixture.base)/\(name)/memory.swap.max") == "max")
        #expect(fixture.read("\(fixture.base)/\(name)/cpu.max") == "max 100000")
        try driver.remove(name: name)
    }

    @Test("a limit whose controller the root does not offer is unsupported and creates nothing")
    func missingController() throws {
        let fixture = try CgroupFixture.v2(["cpu", "io", "pids"])
        let driver = fixture.v2Driver()
        #expect(driver.availableControllers == ["pids", "cpu"])
        #expect {
            try driver.create(name: name, limits: fullLimits)
        } throws: { error in
            let error = error as! SkiffError
            return error.kind == .unsupported && error.message.contains("memory controller")
        }
        #expect(fixture.skiffDirectories().isEmpty)
        // Without a memory limit the same machine is fine.
        try driver.create(name: name, limits: ResourceLimits(pidsLimit: 5, nanoCpus: 1_000_000_000))
        #expect(fixture.read("\(fixture.base)/\(name)/cpu.max") == "100000 100000")
        #expect(!Files.exists("\(fixture.base)/\(name)/memory.max"))
        try driver.remove(name: name)
    }

    @Test("a controller that refuses to be enabled only matters when its limit is asked for")
    func refusedController() throws {
        let fixture = try CgroupFixture.v2()
        fixture.failWrite("\(fixture.base)/cgroup.subtree_control", errno: EINVAL)
        let driver = fixture.v2Driver()
        try driver.create(name: "skiff/a", limits: ResourceLimits())
        try driver.remove(name: "skiff/a")
        #expect {
            try driver.create(name: name, limits: ResourceLimits(nanoCpus: 500_000_000))
        } throws: { error in
            (error as! SkiffError).message == "write +cpu to \(fixture.base)/cgroup.subtree_control: Invalid argument"
        }
        #expect(fixture.skiffDirectories().isEmpty)
    }

    @Test("EBUSY on subtree_control explains the no-internal-processes rule")
    func busyRoot() throws {
        let fixture = try CgroupFixture.v2()
        fixture.failWrite("\(fixture.base)/cgroup.subtree_control", errno: EBUSY)
        #expect {
            try fixture.v2Driver().create(name: name, limits: fullLimits)
        } throws: { error in
            (error as! SkiffError).message.contains("holds processes itself")
        }
    }

    @Test("a failed write names file and value and removes what was created")
    func failedWriteRollsBack() throws {
        let fixture = try CgroupFixture.v2()
        fixture.failWrite("/pids.max", errno: EINVAL)
        #expect {
            try fixture.v2Driver().create(name: name, limits: fullLimits)
        } throws: { error in
            let error = error as! SkiffError
            return error.message == "write 20 to \(fixture.base)/\(name)/pids.max: Invalid argument"
        }
        #expect(fixture.skiffDirectories().isEmpty)
    }

    @Test("remove deletes the empty skiff parent but keeps one still in use")
    func removeParents() throws {
        let fixture = try CgroupFixture.v2()
        let driver = fixture.v2Driver()
        try driver.create(name: "skiff/a", limits: fullLimits)
        try driver.create(name: "skiff/b", limits: fullLimits)
        try driver.remove(name: "skiff/a")
        #expect(Set(fixture.skiffDirectories()) == ["\(fixture.base)/skiff", "\(fixture.base)/skiff/b"])
        try driver.remove(name: "skiff/b")
        #expect(fixture.skiffDirectories().isEmpty)
        try driver.remove(name: "skiff/b")
    }

    @Test("deeper names (--cgroup-parent) delegate controllers at every level, and their parents stay")
    func deeperName() throws {
        let fixture = try CgroupFixture.v2()
        let driver = fixture.v2Driver()
        try driver.create(name: "skiff/pod/x", limits: fullLimits)
        #expect(fixture.read("\(fixture.base)/skiff/pod/cgroup.subtree_control") == "cpu memory pids")
        #expect(fixture.read("\(fixture.base)/skiff/pod/x/cpu.max") == "50000 100000")
        try driver.remove(name: "skiff/pod/x")
        #expect(Set(fixture.skiffDirectories()) == ["\(fixture.base)/skiff", "\(fixture.base)/skiff/pod"])
    }

    @Test("OOM kills come from memory.events")
    func oomKills() throws {
        let fixture = try CgroupFixture.v2()
        let driver = fixture.v2Driver()
        #expect(driver.oomKills(for: name) == nil)
        try driver.create(name: name, limits: fullLimits)
        #expect(driver.oomKills(for: name) == 0)
        try Files.writeAtomically("\(fixture.base)/\(name)/memory.events",
                                  "low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\noom_group_kill 0\n")
        #expect(driver.oomKills(for: name) == 2)
        try driver.remove(name: name)
    }
}

@Suite("cgroup parent names")
struct CgroupParentNameTests {
    @Test func slashesAroundAParentChangeNothing() throws {
        #expect(try CgroupParent.normalize("/lab/students/") == "lab/students")
        #expect(try CgroupParent.normalize("lab//students") == "lab/students")
        #expect(try CgroupParent.normalize("skiff-demo") == "skiff-demo")
    }

    @Test(arguments: ["", "/", "a/../b", "..", "./x", "a,b", "a\nb"])
    func badParentsAreRefused(_ text: String) {
        #expect(throws: SkiffError.self) { try CgroupParent.normalize(text) }
    }

    @Test func onlySkiffSlashIDIsUnderTheSharedParent() {
        #expect(CgroupParent.isShared("skiff/abc"))
        #expect(!CgroupParent.isShared("skiff/pod/abc"))
        #expect(!CgroupParent.isShared("lab/abc"))
    }
}
