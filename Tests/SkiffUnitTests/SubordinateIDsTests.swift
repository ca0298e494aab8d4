#if canImport(Glibc)
import Glibc
#endif
import Testing
import SkiffCommon
import SkiffImages
@testable import SkiffEngine

/// A rootless user's subordinate range: how /etc/subuid and /etc/subgid
/// are read, the maps and helper arguments made from it, and the IDs
/// `commit` gives back.
@Suite("subordinate IDs")
struct SubordinateIDsTests {
    @Test func entriesMatchByNameOrNumberFirstOneWins() {
        let text = "alice:100000:65536\nbad line\n1001:200000:1000\nzero:5:0\nalice:900000:10\n"
        #expect(SubordinateIDs.entry(in: text, for: ["alice", "1000"])! == ("alice", 100000, 65536))
        #expect(SubordinateIDs.entry(in: text, for: ["bob", "1001"])! == ("1001", 200000, 1000))
        #expect(SubordinateIDs.entry(in: text, for: ["zero"]) == nil)
        #expect(SubordinateIDs.entry(in: text, for: ["carol"]) == nil)
    }

    func file(_ text: String) throws -> String {
        let (fd, path) = try Files.makeTemporaryFile(prefix: "/tmp/subids-test-")
        try Files.writeAll(fd, Array(text.utf8), what: path)
        close(fd)
        return path
    }

    @Test func theCurrentUsersRangeOrWhyNot() throws {
        let me = "\(getuid())"
        let uids = try file("someone:1:2\n\(me):300000:70000\n")
        let gids = try file("\(me):400000:65536\n")
        let none = try file("someone:1:2\n")
        defer { for path in [uids, gids, none] { unlink(path) } }
        switch SubordinateIDs.forCurrentUser(subuid: none, subgid: gids) {
        case .success: Issue.record("a file without our entry gave a range")
        case .failure(let missing): #expect(missing.reason == "\(none) has no range for \(String(cString: getpwuid(getuid())!.pointee.pw_name))")
        }
        let found = SubordinateIDs.forCurrentUser(subuid: uids, subgid: gids)
        if SubordinateIDs.tool("newuidmap") != nil && SubordinateIDs.tool("newgidmap") != nil {
            #expect((try? found.get()) == SubordinateIDs(uid: 300000, gid: 400000, count: 65536))
        } else if case .failure(let missing) = found {
            #expect(missing.reason.contains("is not installed (Debian's uidmap package)"))
        }
    }

    @Test func mapsAndHelperArguments() {
        let range = SubordinateIDs(uid: 100000, gid: 200000, count: 65536)
        #expect(range.uidMap(own: 1000) == ["0 1000 1", "1 100000 65536"])
        #expect(range.toolArguments(own: 1001, gids: true) == ["0", "1001", "1", "1", "200000", "65536"])
        let map = UserNamespaceMap(uid: 1000, gid: 1001, count: 1, subordinate: range)
        #expect(map.spawnArguments == ["--userns", "1000", "1001", "1", "--subids", "100000", "200000", "65536"])
        #expect(UserNamespaceMap(uid: 1000, gid: 1001, count: 1).spawnArguments == ["--userns", "1000", "1001", "1"])
    }

    @Test func commitGivesBackTheContainersIDs() {
        let map = UserNamespaceMap(uid: 1000, gid: 1001, count: 1, subordinate: SubordinateIDs(uid: 100000, gid: 200000, count: 65536))
        func shifted(_ uid: UInt32, _ gid: UInt32) -> (UInt32, UInt32) {
            let e = map.shiftedToContainer(ArchiveEntry(path: "f", kind: .regular, mode: 0o644, uid: uid, gid: gid))
            return (e.uid, e.gid)
        }
        #expect(shifted(1000, 1001) == (0, 0))
        #expect(shifted(100000 + 999, 200000 + 999) == (1000, 1000))
        #expect(shifted(100000, 200000) == (1, 1))
        #expect(shifted(5, 7) == (5, 7)) // outside both: as it was
    }
}
