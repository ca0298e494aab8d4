import Foundation
import SkiffCommon
import SkiffEngine
import Testing

/// Where --userns=private takes its host range from.
struct UserNamespaceMapTests {
    func file(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "subid-\(UUID().uuidString.prefix(8))"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func skiffsEntryWinsOverRootsAndMalformedLinesAreSkipped() throws {
        let uid = try file("alice:200000:65536\nroot:300000:65536\nskiff:bad:1\nskiff:400000:70000\n")
        let gid = try file("skiff:500000:65536\n")
        defer { unlink(uid); unlink(gid) }
        let (map, source) = UserNamespaceMap.forThisMachine(subuid: uid, subgid: gid)
        #expect(map == UserNamespaceMap(uid: 400000, gid: 500000, count: 65536))
        #expect(source.contains("skiff"))
        #expect(UserNamespaceMap.subordinateRange(uid, owner: "alice")?.start == 200000)
    }

    @Test func withoutEntriesTheDefaultRangeIsUsed() throws {
        let (map, source) = UserNamespaceMap.forThisMachine(subuid: "/nonexistent/subuid", subgid: "/nonexistent/subgid")
        #expect(map == UserNamespaceMap(uid: 100000, gid: 100000, count: 65536))
        #expect(source == "Skiff's default range")
    }

    @Test func onlyHostAndPrivateAreModes() throws {
        #expect(try UserNamespaceMap.parseMode(nil) == nil)
        #expect(try UserNamespaceMap.parseMode("host") == nil)
        #expect(try UserNamespaceMap.parseMode("private") == "private")
        #expect(throws: SkiffError.self) { try UserNamespaceMap.parseMode("remap") }
    }
}
