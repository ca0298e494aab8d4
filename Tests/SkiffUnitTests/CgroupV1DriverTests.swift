#if canImport(Glibc)
import Glibc
#endif
import Testing
import SkiffCommon
@testable import SkiffKernel

private let id = String(repeating: "ab", count: 32)
private let name = "skiff/" + id
private let fullLimits = ResourceLimits(memoryBytes: 64 << 20, pidsLimit: 20, nanoCpus: 500_000_000)

@Suite("cgroup v1 driver")
struct CgroupV1DriverTests {
    @Test("create makes a directory per hierarchy and writes every limit")
    func createWritesLimits() throws {
        let fixture = try CgroupFixture.v1()
        let driver = fixture.v1Driver()
        try driver.create(name: name, limits: fullLimits)
        let b = fixture.base
        for dir in driver.directories(for: name) { #expect(Files.isDirectory(dir)) }
        #expect(fixture.read("\(b)/memory/\(name)/memory.limit_in_bytes") == "67108864")
        #expect(fixture.read("\(b)/memory/\(name)/memory.memsw.limit_in_bytes") == "67108864")
        #expect(fixture.read("\(b)/pids/\(name)/pids.max") == "20")
        #expect(fixture.read("\(b)/cpu/\(name)/cpu.cfs_period_us") == "100000")
        #expect(fixture.read("\(b)/cpu/\(name)/cpu.cfs_quota_us") == "50000")
        // limit_in_bytes before memsw (the kernel wants memsw >= limit), period before quota.
        let order = fixture.writes.map { String($0.split(separator: "/").last!) }
        #expect(order == ["memory.limit_in_bytes=67108864", "memory.memsw.limit_in_bytes=67108864",
                          "pids.max=20", "cpu.cfs_period_us=100000", "cpu.cfs_quota_us=50000"])

        let files = driver.limitFiles(for: name)
        #expect(files.contains(CgroupFileValue(path: "\(b)/pids/\(name)/pids.max", value: "20")))
        #expect(files.contains(CgroupFileValue(path: "\(b)/cpu/\(name)/cpu.cfs_quota_us", value: "50000")))
        #expect(files.contains(CgroupFileValue(path: "\(b)/memory/\(name)/memory.usage_in_bytes", value: "0")))
        #expect(files.map { $0.path.split(separator: "/").last! } == [
            "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.usage_in_bytes",
            "pids.max", "pids.current", "cpu.cfs_quota_us", "cpu.cfs_period_us",
        ])
        try driver.remove(name: name)
    }

    @Test("the devices hierarchy gets deny-all, then Docker's allow-list; privileged keeps the parent's")
    func deviceAllowList() throws {
        let fixture = try CgroupFixture(.v1(hierarchies: ["memory": ["memory"], "devices": ["devices"]], memsw: true))
        let driver = fixture.v1Driver()
        #expect(driver.availableControllers == ["memory", "devices"])
        try driver.create(name: name, limits: ResourceLimits())
        let writes = fixture.writes.map { String($0.split(separator: "/").last!) }
        #expect(writes.first == "devices.deny=a")
        #expect(Array(writes.dropFirst()) == DeviceRules.allowed.map { "devices.allow=" + $0 })
        #expect(DeviceRules.allowed.contains("c 136:* rwm"))
        #expect(!DeviceRules.allowed.contains { $0.hasPrefix("b ") && $0.hasSuffix("rwm") }, "no block device is readable")
        #expect(driver.limitFiles(for: name).contains { $0.path.hasSuffix("/devices.list") })
        try driver.remove(name: name)

        let privileged = try CgroupFixture(.v1(hierarchies: ["devices": ["devices"]], memsw: true))
        var all = ResourceLimits()
        all.allowAllDevices = true
        try privileged.v1Driver().create(name: name, limits: all)
        #expect(privileged.writes.isEmpty)
        try privileged.v1Driver().remove(name: name)
    }

    @Test("without swap accounting there is no memsw file to write")
    func noMemsw() throws {
        let fixture = try CgroupFixture.v1(memsw: false)
        let driver = fixture.v1Driver()
        try driver.create(name: name, limits: ResourceLimits(memoryBytes: 64 << 20))
        #expect(!Files.exists("\(fixture.base)/memory/\(name)/memory.memsw.limit_in_bytes"))
        #expect(fixture.read("\(fixture.base)/memory/\(name)/memory.limit_in_bytes") == "67108864")
        try driver.remove(name: name)
    }

    @Test("no limits still makes every hierarchy's directory and writes nothing")
    func noLimits() throws {
        let fixture = try CgroupFixture.v1()
        let driver = fixture.v1Driver()
        try driver.create(name: name, limits: ResourceLimits())
        #expect(driver.directories(for: name).allSatisfy { Files.isDirectory($0) })
        #expect(fixture.writes.isEmpty)
        #expect(fixture.read("\(fixture.base)/cpu/\(name)/cpu.cfs_quota_us") == "-1")
        try driver.remove(name: name)
    }

    @Test("a pids limit of 0 or less writes max")
    func unlimitedPids() throws {
        let fixture = try CgroupFixture.v1()
        let driver = fixture.v1Driver()
        try driver.create(name: name, limits: ResourceLimits(pidsLimit: -1))
        #expect(fixture.read("\(fixture.base)/pids/\(name)/pids.max") == "max")
        try driver.remove(name: name)
    }

    @Test("co-mounted cpu,cpuacct works like a lone cpu hierarchy")
    func combinedCpu() throws {
        let fixture = try CgroupFixture.v1(cpuDir: "cpu,cpuacct")
        let driver = fixture.v1Driver()
        #expect(driver.directories(for: name).count == 3)
        try driver.create(name: name, limits: fullLimits)
        #expect(fixture.read("\(fixture.base)/cpu,cpuacct/\(name)/cpu.cfs_quota_us") == "50000")
        #expect(Files.exists("\(fixture.base)/cpu,cpuacct/\(name)/cpuacct.usage"))
        try driver.remove(name: name)
        #expect(fixture.skiffDirectories().isEmpty)
    }

    @Test("an absent hierarchy is skipped when no limit needs it")
    func absentHierarchySkipped() throws {
        let fixture = try CgroupFixture.v1()
        var mountpoints = fixture.mountpoints
        mountpoints["pids"] = nil
        let driver = CgroupV1Driver(mountpoints: mountpoints, fs: fixture.fs)
        #expect(driver.availableControllers == ["memory", "cpu"])
        try driver.create(name: name, limits: ResourceLimits(memoryBytes: 64 << 20, pidsLimit: 0))
        #expect(driver.directories(for: name) == ["\(fixture.base)/memory/\(name)", "\(fixture.base)/cpu/\(name)"])
        #expect(!Files.exists("\(fixture.base)/pids/skiff"))
        try driver.remove(name: name)
    }

    @Test("a limit for an absent controller is unsupported and creates nothing")
    func absentControllerWithLimit() throws {
        let fixture = try CgroupFixture.v1()
        var mountpoints = fixture.mountpoints
        mountpoints["pids"] = nil
        let driver = CgroupV1Driver(mountpoints: mountpoints, fs: fixture.fs)
        #expect {
            try driver.create(name: name, limits: ResourceLimits(pidsLimit: 20))
        } throws: { error in
            let error = error as! SkiffError
            return error.kind == .unsupported && error.message.contains("pids controller")
                && error.message.contains("mount -t cgroup -o pids")
        }
        #expect(fixture.skiffDirectories().isEmpty)
    }

    @Test("a failed write names file and value and removes what was created")
    func failedWriteRollsBack() throws {
        let fixture = try CgroupFixture.v1()
        fixture.failWrite("/pids.max", errno: EINVAL)
        let driver = fixture.v1Driver()
        #expect {
            try driver.create(name: name, limits: fullLimits)
        } throws: { error in
            let error = error as! SkiffError
            return error.message == "write 20 to \(fixture.base)/pids/\(name)/pids.max: Invalid argument"
                && error.errno == EINVAL && error.kind == .system
        }
        #expect(fixture.skiffDirectories().isEmpty)
    }

    @Test("rollback keeps a parent another container uses")
    func rollbackKeepsBusyParent() throws {
        let fixture = try CgroupFixture.v1()
        let driver = fixture.v1Driver()
        try driver.create(name: "skiff/other", limits: ResourceLimits())
        fixture.failWrite("/cpu.cfs_quota_us", errno: EINVAL)
        #expect(throws: SkiffError.self) { try driver.create(name: name, limits: fullLimits) }
        #expect(driver.directories(for: "skiff/other").allSatisfy { Files.isDirectory($0) })
        #expect(driver.directories(for: name).allSatisfy { !Files.exists($0) })
        try driver.remove(name: "skiff/other")
        #expect(fixture.skiffDirectories().isEmpty)
    }

    @Test("remove deletes the empty skiff parent but keeps one still in use")
    func removeParents() throws {
        let fixture = try CgroupFixture.v1()
        let driver = fixture.v1Driver()
        try driver.create(name: "skiff/a", limits: fullLimits)
        try driver.create(name: "skiff/b", limits: fullLimits)
        try driver.remove(name: "skiff/a")
        #expect(Set(fixture.skiffDirectories()) == Set(
            ["memory", "pids", "cpu"].flatMap { ["\(fixture.base)/\($0)/skiff", "\(fixture.base)/\($0)/skiff/b"] }))
        #expect(driver.directories(for: "skiff/b").allSatisfy { Files.isDirectory($0) })
        try driver.remove(name: "skiff/b")
        #expect(fixture.skiffDirectories().isEmpty)
    }

    @Test("remove of a cgroup that does not exist succeeds")
    func removeMissing() throws {
        let fixture = try CgroupFixture.v1()
        try fixture.v1Driver().remove(name: name)
    }

    @Test("remove retries while the kernel says EBUSY")
    func removeRetriesBusy() throws {
        let fixture = try CgroupFixture.v1()
        let driver = fixture.v1Driver()
        try driver.create(name: name, limits: fullLimits)
        fixture.makeBusy("\(fixture.base)/pids/\(name)", times: 3)
        try driver.remove(name: name)
        #expect(fixture.pauses == 3)
        #expect(fixture.skiffDirectories().isEmpty)
    }

    @Test("remove gives up after about a second of EBUSY and names the processes inside")
    func removeGivesUp() throws {
        let fixture = try CgroupFixture.v1()
        let driver = fixture.v1Driver()
        try driver.create(name: name, limits: fullLimits)
        let busy = "\(fixture.base)/memory/\(name)"
        try Files.writeAtomically(busy + "/cgroup.procs", "4242\n4243\n")
        fixture.makeBusy(busy, times: 1000)
        #expect {
            try driver.remove(name: name)
        } throws: { error in
            let error = error as! SkiffError
            return error.errno == EBUSY && error.message.contains(busy)
                && error.message.contains("4242, 4243")
        }
        #expect(fixture.pauses == 99)
        // The other hierarchies were cleaned; the busy one and its parent stay.
        #expect(Set(fixture.skiffDirectories()) == [busy, "\(fixture.base)/memory/skiff"])
        fixture.makeBusy(busy, times: 0)
        try driver.remove(name: name)
        #expect(fixture.skiffDirectories().isEmpty)
    }

    @Test("OOM kills come from memory.oom_control")
    func oomKills() throws {
        let fixture = try CgroupFixture.v1()
        let driver = fixture.v1Driver()
        #expect(driver.oomKills(for: name) == nil)
        try driver.create(name: name, limits: fullLimits)
        #expect(driver.oomKills(for: name) == 0)
        try Files.writeAtomically("\(fixture.base)/memory/\(name)/memory.oom_control",
                                  "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")
        #expect(driver.oomKills(for: name) == 3)
        try driver.remove(name: name)
    }

    @Test("bad names and limits are refused before anything is created", arguments: [
        ("../escape", ResourceLimits()),
        ("/abs", ResourceLimits()),
        ("skiff//x", ResourceLimits()),
        ("", ResourceLimits()),
        (name, ResourceLimits(memoryBytes: 1 << 20)),
    ])
    func refusesBadInput(badName: String, limits: ResourceLimits) throws {
        let fixture = try CgroupFixture.v1()
        #expect {
            try fixture.v1Driver().create(name: badName, limits: limits)
        } throws: { error in
            (error as! SkiffError).kind == .usage
        }
        #expect(fixture.skiffDirectories().isEmpty)
        #expect(fixture.writes.isEmpty)
    }
}
