#if canImport(Glibc)
import Glibc
#endif
import Testing
import SkiffCommon
@testable import SkiffEngine
@testable import SkiffKernel

/// The delegated subtree a rootless engine finds (CgroupDelegation) and
/// what its driver does there (RootlessCgroups), on a fixture cgroupfs
/// laid out as systemd lays out a logged-in user's tree.
@Suite("cgroup v2 delegation")
struct CgroupDelegationTests {
    static let user: UInt32 = 1000
    static let service = "user.slice/user-1000.slice/user@1000.service"
    static let own = "/" + service + "/app.slice/term.scope"

    /// A v2 fixture with the user's tree, each level enabling `delegated`
    /// for the next; `owned` (paths below the base) are the user's.
    func tree(delegated: [String], owned: (String) -> [String]) throws -> (CgroupFixture, CgroupFS) {
        let fixture = try CgroupFixture.v2()
        var fs = fixture.fs
        var dir = fixture.base
        for part in Self.own.split(separator: "/") {
            for controller in delegated { _ = fs.writeFile(dir + "/cgroup.subtree_control", "+" + controller) }
            dir += "/" + part
            #expect(fs.makeDirectory(dir) == 0)
        }
        let mine = Set(owned(fixture.base))
        fs.owner = { path in Files.exists(path) ? (mine.contains(path) ? Self.user : 0) : nil }
        return (fixture, fs)
    }

    /// The directory and the files systemd hands over, for each of `dirs`.
    static func handedOver(_ dirs: [String]) -> [String] {
        dirs.flatMap { [$0, $0 + "/cgroup.procs", $0 + "/cgroup.subtree_control", $0 + "/cgroup.threads"] }
    }

    @Test func ownPathIsTheUnifiedLine() {
        #expect(CgroupDelegation.ownPath(procSelfCgroup: "12:memory:/m\n1:name=systemd:/s\n0::/a/b\n") == "/a/b")
        #expect(CgroupDelegation.ownPath(procSelfCgroup: "0::/\n") == "")
        #expect(CgroupDelegation.ownPath(procSelfCgroup: "4:pids:/x\n") == nil)
    }

    @Test func theWalkStopsAtTheHighestCgroupTheUserOwns() throws {
        let (fixture, fs) = try tree(delegated: ["memory", "pids"]) { base in
            Self.handedOver([base + "/" + Self.service, base + "/" + Self.service + "/app.slice",
                             base + Self.own])
        }
        let found = CgroupDelegation.delegatedSubtree(mount: fixture.base, ownPath: Self.own, uid: Self.user, fs: fs)
        #expect(found == fixture.base + "/" + Self.service)
        // Not the user's: nothing.
        #expect(CgroupDelegation.delegatedSubtree(mount: fixture.base, ownPath: Self.own, uid: 2000, fs: fs) == nil)
    }

    @Test func aDirectoryWithoutItsFilesIsNotDelegated() throws {
        // user@1000.service is the user's, but its cgroup.subtree_control is not.
        let (fixture, fs) = try tree(delegated: []) { base in
            [base + "/" + Self.service, base + "/" + Self.service + "/cgroup.procs"]
                + Self.handedOver([base + "/" + Self.service + "/app.slice", base + Self.own])
        }
        let found = CgroupDelegation.delegatedSubtree(mount: fixture.base, ownPath: Self.own, uid: Self.user, fs: fs)
        #expect(found == fixture.base + "/" + Self.service + "/app.slice")
        // Our own cgroup not handed over: none, whatever is above.
        let (other, otherFS) = try tree(delegated: []) { base in Self.handedOver([base + "/" + Self.service]) }
        #expect(CgroupDelegation.delegatedSubtree(mount: other.base, ownPath: Self.own, uid: Self.user, fs: otherFS) == nil)
        #expect(CgroupDelegation.delegatedSubtree(mount: other.base, ownPath: "/a/../b", uid: Self.user, fs: otherFS) == nil)
    }

    @Test func limitsApplyWhenTheirControllerIsDelegated() throws {
        let (fixture, fs) = try tree(delegated: ["memory", "pids"]) { base in Self.handedOver([base + "/" + Self.service]) }
        let root = fixture.base + "/" + Self.service
        let cgroups = RootlessCgroups(subtree: CgroupV2Driver(root: root, fs: fs), machineVersion: .v2, reason: "")
        var limits = ResourceLimits()
        limits.memoryBytes = 64 << 20
        limits.pidsLimit = 20
        #expect(cgroups.refusal(limits) == nil)
        #expect(cgroups.directories(for: "skiff/c1") == [root + "/skiff/c1"])
        try cgroups.create(name: "skiff/c1", limits: limits)
        #expect(fixture.read(root + "/skiff/c1/memory.max") == "\(64 << 20)")
        #expect(fixture.read(root + "/skiff/c1/pids.max") == "20")
        // No device program rootless: loading one needs CAP_SYS_ADMIN.
        #expect(!fixture.writes.contains { $0.contains("device-program") }, "\(fixture.writes)")
        #expect(cgroups.procsFiles(for: "skiff/c1") == [root + "/skiff/c1/cgroup.procs"])
        try cgroups.remove(name: "skiff/c1")
        #expect(fixture.skiffDirectories().isEmpty)
        // cpu is not delegated here: --cpus is refused, naming it and the fix.
        limits.nanoCpus = 500_000_000
        let refusal = try #require(cgroups.refusal(limits))
        #expect(refusal.message.contains("cannot apply --cpus rootless: the cpu controller is not delegated to you"), "\(refusal.message)")
        #expect(refusal.message.contains("Delegate=cpu"), "\(refusal.message)")
        #expect(refusal.message.split(separator: "\n").count == 1)
    }

    @Test func withoutASubtreeThereIsNoCgroup() throws {
        let cgroups = RootlessCgroups(subtree: nil, machineVersion: .v1, reason: "cgroup v1 does not delegate to users")
        #expect(cgroups.version == .v1)
        #expect(cgroups.directories(for: "skiff/c").isEmpty && cgroups.procsFiles(for: "skiff/c").isEmpty)
        try cgroups.create(name: "skiff/c", limits: ResourceLimits())
        var limits = ResourceLimits()
        limits.pidsLimit = 5
        #expect(cgroups.refusal(limits)?.message == "cannot apply --pids-limit rootless: cgroup v1 does not delegate to users (run as root for limits)")
        #expect(cgroups.refusal(ResourceLimits()) == nil)
    }
}
