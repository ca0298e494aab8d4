import Foundation
import Testing
@testable import SkiffEngine
import SkiffCommon
import SkiffKernel

@Suite("state on disk")
struct StateTests {
    func tempDir() throws -> String {
        let dir = "/tmp/skiff-unit-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func stateFilesGiveTheStatus() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(StateFiles.read(directory: dir).status == .created)
        // Our own pid and start time: a live "container".
        let me = getpid()
        let start = ProcessInfoLite.startTime(of: me)!
        try Files.writeAtomically(dir + "/pid", "\(me) \(start) \(me) 1000000000\n")
        let running = StateFiles.read(directory: dir)
        #expect(running.status == .running)
        #expect(running.pid == me)
        // Same pid, other start time: the pid was reused, the container is gone.
        try Files.writeAtomically(dir + "/pid", "\(me) 1 \(me) 1000000000\n")
        #expect(StateFiles.read(directory: dir).status == .exited)
        #expect(StateFiles.read(directory: dir).exitCode == 255)
        try Files.writeAtomically(dir + "/exit", "137 2000000000 1\n")
        let exited = StateFiles.read(directory: dir)
        #expect(exited.status == .exited && exited.exitCode == 137 && exited.oomKilled)
        #expect(exited.finishedAt == Date(timeIntervalSince1970: 2))
    }

    @Test func namesAreReservedOnceAndPrefixesResolve() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = ContainerStore(root: StateRoot(path: dir))
        let a = String(repeating: "a", count: 63) + "1"
        let b = String(repeating: "a", count: 63) + "2"
        for id in [a, b] { try Files.makeDirectories(dir + "/containers/" + id) }
        try store.reserve(name: "web", id: a)
        #expect(throws: SkiffError.self) { try store.reserve(name: "web", id: b) }
        #expect(try store.resolve("web") == a)
        #expect(try store.resolve(b) == b)
        #expect(try store.resolve(String(b.prefix(64))) == b)
        #expect(throws: SkiffError(.conflict, "multiple IDs found with provided prefix: aaaa")) { try store.resolve("aaaa") }
        #expect(throws: SkiffError(.notFound, "No such container: nope")) { try store.resolve("nope") }
        store.release(name: "web", id: b)  // not the owner: kept
        #expect(try store.resolve("web") == a)
        store.release(name: "web", id: a)
        #expect(throws: SkiffError.self) { try store.resolve("web") }
    }

    @Test func atomicWritesLeaveNoTemporaryFiles() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Files.writeAtomically(dir + "/f", "one")
        try Files.writeAtomically(dir + "/f", "two")
        #expect(try Files.readString(dir + "/f") == "two")
        #expect(Files.list(dir) == ["f"])
    }

    @Test func mountinfoLinesParse() {
        let text = """
        36 35 98:0 /mnt1 /mnt\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue
        90 80 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
        """
        let mounts = MountInfo.parse(text)
        #expect(mounts.count == 2)
        #expect(mounts[0].mountPoint == "/mnt space")
        #expect(mounts[1].fsType == "overlay")
        #expect(mounts[1].superOptions.contains("upperdir=/u"))
    }

    @Test func busyboxCheckTellsStaticFromDynamic() {
        if Files.exists("/bin/busybox") { #expect(BusyboxCheck.inspect("/bin/busybox") == .staticBinary) }
        #expect(BusyboxCheck.inspect("/bin/ls") == .dynamic)
        #expect(BusyboxCheck.inspect("/nonexistent") == .missing)
    }
}
