#if canImport(Glibc)
import Glibc
#endif
import Testing
import SkiffCommon
@testable import SkiffKernel

/// The hybrid layout of the CI machine: one v1 hierarchy per controller plus a
/// cgroup2 at /sys/fs/cgroup/unified that holds no controller.
private let hybridMountinfo = """
    22 27 0:21 / /proc rw,relatime - proc proc rw
    23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
    27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
    31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
    32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
    33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
    34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
    35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
    36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
    37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
    38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
    39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
    40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
    41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
    """

/// A systemd laptop with only cgroup v2 (Debian 12, Fedora, Ubuntu 22.04+).
private let pureV2Mountinfo = """
    22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro
    23 22 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
    24 22 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
    27 23 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
    28 23 0:26 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:10 - pstore pstore rw
    """

/// Ubuntu 18.04 style v1 with co-mounted controllers.
private let combinedV1Mountinfo = """
    25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
    26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
    27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
    30 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct
    31 25 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,net_cls,net_prio
    32 25 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,memory
    33 25 0:31 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,pids
    """

@Suite("Cgroup detection")
struct CgroupDetectionTests {
    @Test("the hybrid layout of this machine gives v1 with memory, pids and cpu")
    func hybridIsV1() throws {
        let driver = try Cgroups.detect(mountinfo: hybridMountinfo)
        #expect(driver.version == .v1)
        let v1 = try #require(driver as? CgroupV1Driver)
        #expect(v1.mountpoints == ["memory": "/sys/fs/cgroup/memory", "pids": "/sys/fs/cgroup/pids",
                                   "cpu": "/sys/fs/cgroup/cpu", "devices": "/sys/fs/cgroup/devices"])
        #expect(driver.availableControllers == ["memory", "pids", "cpu", "devices"])
        #expect(driver.directories(for: "skiff/abc") == [
            "/sys/fs/cgroup/memory/skiff/abc", "/sys/fs/cgroup/pids/skiff/abc", "/sys/fs/cgroup/cpu/skiff/abc",
            "/sys/fs/cgroup/devices/skiff/abc",
        ])
        #expect(driver.procsFiles(for: "skiff/abc") == [
            "/sys/fs/cgroup/memory/skiff/abc/cgroup.procs", "/sys/fs/cgroup/pids/skiff/abc/cgroup.procs",
            "/sys/fs/cgroup/cpu/skiff/abc/cgroup.procs", "/sys/fs/cgroup/devices/skiff/abc/cgroup.procs",
        ])
    }

    @Test("a pure cgroup2 mount at /sys/fs/cgroup gives v2 with one directory")
    func pureV2() throws {
        let driver = try Cgroups.detect(mountinfo: pureV2Mountinfo)
        #expect(driver.version == .v2)
        #expect(driver.directories(for: "skiff/abc") == ["/sys/fs/cgroup/skiff/abc"])
        #expect(driver.procsFiles(for: "skiff/abc") == ["/sys/fs/cgroup/skiff/abc/cgroup.procs"])
    }

    @Test("co-mounted cpu,cpuacct is found by its super options")
    func combinedHierarchies() throws {
        let v1 = try #require(try Cgroups.detect(mountinfo: combinedV1Mountinfo) as? CgroupV1Driver)
        #expect(v1.mountpoints["cpu"] == "/sys/fs/cgroup/cpu,cpuacct")
        #expect(v1.directories(for: "skiff/x").last == "/sys/fs/cgroup/cpu,cpuacct/skiff/x")
    }

    @Test("no cgroup filesystem at all is unsupported, with a fix")
    func nothingMounted() {
        let text = hybridMountinfo.split(separator: "\n").filter { !$0.contains("cgroup") }.joined(separator: "\n")
        #expect {
            try Cgroups.detect(mountinfo: text)
        } throws: { error in
            let error = error as! SkiffError
            return error.kind == .unsupported && error.message.contains("mount -t cgroup2")
        }
    }

    @Test("a named hierarchy (name=systemd) is not a controller")
    func namedHierarchyOnly() {
        let text = hybridMountinfo.split(separator: "\n")
            .filter { !$0.contains("cgroup cgroup rw,") || $0.contains("name=systemd") }
            .filter { !$0.contains("cgroup2") }
            .joined(separator: "\n")
        #expect(throws: SkiffError.self) { try Cgroups.detect(mountinfo: text) }
    }

    @Test("a cgroup2 elsewhere counts only when it offers controllers")
    func cgroup2Elsewhere() throws {
        let fixture = try CgroupFixture.v2(["memory", "pids"])
        let line = "41 31 0:38 / \(fixture.base) rw,relatime - cgroup2 cgroup2 rw"
        let driver = try Cgroups.detect(mountinfo: line, root: "/nonexistent", fs: fixture.fs)
        #expect(driver.version == .v2)
        #expect(driver.directories(for: "skiff/a") == [fixture.base + "/skiff/a"])
        #expect(driver.availableControllers == ["memory", "pids"])

        let empty = try CgroupFixture.v2([])
        let emptyLine = "41 31 0:38 / \(empty.base) rw,relatime - cgroup2 cgroup2 rw"
        #expect(throws: SkiffError.self) {
            try Cgroups.detect(mountinfo: emptyLine, root: "/nonexistent", fs: empty.fs)
        }
    }

    @Test("mountpoints with escaped spaces and a custom root")
    func escapedMountpoint() throws {
        let line = #"50 1 0:40 / /tmp/my\040cgroup rw - cgroup2 none rw"#
        let driver = try Cgroups.detect(mountinfo: line, root: "/tmp/my cgroup/")
        #expect(driver.directories(for: "skiff/a") == ["/tmp/my cgroup/skiff/a"])
    }

    @Test("a tmpfs mounted over the cgroup2 root hides it")
    func overmounted() throws {
        let text = pureV2Mountinfo + "\n40 27 0:50 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
            + "41 40 0:51 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory"
        let driver = try Cgroups.detect(mountinfo: text)
        #expect(driver.version == .v1)
        #expect(driver.availableControllers == ["memory"])
    }

    @Test("detect() on this machine finds a driver", .enabled(if: Files.isDirectory("/sys/fs/cgroup"), "needs /sys/fs/cgroup"))
    func detectHere() throws {
        let driver = try Cgroups.detect()
        #expect(!driver.availableControllers.isEmpty)
    }
}
