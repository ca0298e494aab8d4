#if canImport(Glibc)
import Glibc
#endif
import Testing
import SkiffCommon
@testable import SkiffKernel

private func randomID() -> String {
    var generator = SystemRandomNumberGenerator()
    let digits = Array("0123456789abcdef")
    return String((0..<64).map { _ in digits[Int(generator.next() % 16)] })
}

private func fileName(_ path: String) -> String { String(path.split(separator: "/").last ?? "") }

/// The driver detect() picks, run for real on this machine's cgroupfs.
@Suite("cgroup driver on this machine", .serialized,
       .enabled(if: getuid() == 0, "needs root to create cgroups"))
struct CgroupRealTests {
    @Test("create, read back, remove: no directory remains")
    func createReadRemove() throws {
        let driver = try Cgroups.detect()
        let name = "skiff/" + randomID()
        try driver.create(name: name, limits: ResourceLimits(memoryBytes: 64 << 20, pidsLimit: 20, nanoCpus: 500_000_000))
        var removed = false
        defer { if !removed { try? driver.remove(name: name) } }

        for dir in driver.directories(for: name) { #expect(Files.isDirectory(dir)) }
        let values = Dictionary(driver.limitFiles(for: name).map { (fileName($0.path), $0.value) },
                                uniquingKeysWith: { first, _ in first })
        switch driver.version {
        case .v1:
            #expect(values["memory.limit_in_bytes"] == "67108864")
            if let memsw = values["memory.memsw.limit_in_bytes"] { #expect(memsw == "67108864") }
            #expect(values["pids.max"] == "20")
            #expect(values["cpu.cfs_period_us"] == "100000")
            #expect(values["cpu.cfs_quota_us"] == "50000")
        case .v2:
            #expect(values["memory.max"] == "67108864")
            #expect(values["pids.max"] == "20")
            #expect(values["cpu.max"] == "50000 100000")
        }
        #expect(driver.oomKills(for: name) == 0)

        try driver.remove(name: name)
        removed = true
        for dir in driver.directories(for: name) { #expect(!Files.exists(dir)) }
    }

    @Test("the v2 driver works on every cgroup2 mount here, even one without controllers")
    func v2OnEveryCgroup2Mount() throws {
        let mountinfo = try Files.readString("/proc/self/mountinfo") ?? ""
        let roots = Cgroups.parseMountinfo(mountinfo).filter { $0.fstype == "cgroup2" }.map(\.mountpoint)
        for root in roots {
            let driver = CgroupV2Driver(root: root)
            let name = "skiff/" + randomID()
            let pids: Int64? = driver.availableControllers.contains("pids") ? 20 : nil
            try driver.create(name: name, limits: ResourceLimits(pidsLimit: pids))
            #expect(Files.isDirectory(driver.directory(for: name)))
            if pids != nil {
                #expect(driver.limitFiles(for: name).contains { $0.path.hasSuffix("/pids.max") && $0.value == "20" })
            } else {
                #expect {
                    try driver.create(name: "skiff/" + randomID(), limits: ResourceLimits(pidsLimit: 20))
                } throws: { error in
                    (error as! SkiffError).kind == .unsupported
                }
            }
            try driver.remove(name: name)
            #expect(!Files.exists(driver.directory(for: name)))
        }
    }

    @Test("a process inside keeps the cgroup busy; once it is gone remove succeeds")
    func busyWhileProcessInside() throws {
        let driver = try Cgroups.detect()
        let name = "skiff/" + randomID()
        try driver.create(name: name, limits: ResourceLimits(pidsLimit: 20))
        var child: pid_t = 0
        defer {
            if child > 0 { kill(child, SIGKILL); var status: Int32 = 0; waitpid(child, &status, 0) }
            try? driver.remove(name: name)
        }

        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("30"), nil]
        defer { argv.forEach { free($0) } }
        #expect(posix_spawn(&child, "/bin/sleep", nil, nil, argv, environ) == 0)
        for file in driver.procsFiles(for: name) {
            #expect(CgroupFS.writeWhole(file, String(child)) == 0)
        }
        let cgroupOfChild = try Files.readString("/proc/\(child)/cgroup") ?? ""
        #expect(cgroupOfChild.contains(name))

        #expect {
            try driver.remove(name: name)
        } throws: { error in
            let error = error as! SkiffError
            return error.errno == EBUSY && error.message.contains(String(child))
        }

        kill(child, SIGKILL)
        var status: Int32 = 0
        waitpid(child, &status, 0)
        child = 0
        try driver.remove(name: name)
        for dir in driver.directories(for: name) { #expect(!Files.exists(dir)) }
    }
}
