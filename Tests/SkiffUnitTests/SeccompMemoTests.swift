import Foundation
import SkiffCommon
@testable import SkiffEngine
@testable import SkiffSeccomp
import Testing

@Suite("Seccomp: the built-in profile's memo")
struct SeccompMemoTests {
    @Test func theMemoGivesTheFilterTheProfileWouldGive() throws {
        let dir = "/tmp/skiff-test-seccomp-memo-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = SeccompCache(directory: dir)
        let caps = ContainerConfig.defaultCapabilities
        let expected = try cache.filter(.skiffDefault, for: SeccompTarget(capabilities: caps))
        #expect(try cache.builtinFilter(capabilities: caps) == expected)
        // This test binary has a build ID (as `readelf -n` shows it), so the memo exists and is used.
        let id = try #require(BuildID.ofThisProgram)
        #expect(id.count >= 16)
        let readelf = Process()
        readelf.executableURL = URL(fileURLWithPath: "/usr/bin/readelf")
        readelf.arguments = ["-n", "/proc/\(getpid())/exe"]
        let pipe = Pipe()
        readelf.standardOutput = pipe
        try readelf.run()
        let notes = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        readelf.waitUntilExit()
        #expect(notes.contains("Build ID: " + id))
        let memos = Files.list(dir).filter { $0.hasPrefix("builtin-") }
        #expect(memos.count == 1)
        #expect(try cache.builtinFilter(capabilities: caps) == expected)
        // Other capabilities, another memo (and here another filter).
        let admin = try cache.builtinFilter(capabilities: caps + ["SYS_ADMIN"])
        #expect(admin == (try cache.filter(.skiffDefault, for: SeccompTarget(capabilities: caps + ["SYS_ADMIN"]))))
        #expect(admin != expected)
        #expect(Files.list(dir).filter { $0.hasPrefix("builtin-") }.count == 2)

        // A memo whose filter is gone, or a damaged one, takes the long way.
        unlink(expected)
        #expect(try cache.builtinFilter(capabilities: caps) == expected)
        #expect(Files.exists(expected))
        let memo = dir + "/" + memos[0]
        let good = try #require(try Files.readString(memo))
        let lines = good.split(separator: "\n")
        #expect(lines.count == 2 && lines[1] == expected.split(separator: "/").last!)
        let other = try #require(Files.list(dir).first { $0.hasSuffix(".bpf") && dir + "/" + $0 != expected })
        for damage in [lines[0] + "\n../../../etc/passwd\n", "", lines[0] + "\n" + String(repeating: "x", count: 64) + ".bpf\n",
                       // Another key (as another build of skiff would write) must not be believed.
                       "builtin other\n" + other + "\n"] {
            try Files.writeAtomically(memo, damage)
            #expect(try cache.builtinFilter(capabilities: caps) == expected)
        }
        #expect(try Files.readString(memo) == good)
    }

    @Test func buildIDNotesAreFoundAmongOtherNotes() {
        func note(_ name: [UInt8], type: UInt32, _ desc: [UInt8]) -> [UInt8] {
            func le(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
            func pad(_ b: [UInt8]) -> [UInt8] { b + Array(repeating: 0, count: (4 - b.count % 4) % 4) }
            return le(UInt32(name.count)) + le(UInt32(desc.count)) + le(type) + pad(name) + pad(desc)
        }
        let other = note(Array("GNU".utf8) + [0], type: 5, [1, 2, 3, 4, 5, 6, 7, 8])
        let abi = note(Array("GNU".utf8) + [0], type: 1, [0, 0, 0, 0, 3, 0, 0, 0])
        let id = note(Array("GNU".utf8) + [0], type: 3, [0xde, 0xad, 0xbe, 0xef, 0x01])
        let bytes = other + abi + id
        #expect(bytes.withUnsafeBytes { BuildID.find(in: $0) } == "deadbeef01")
        #expect((other + abi).withUnsafeBytes { BuildID.find(in: $0) } == nil)
        #expect(BuildID.ofELF("/etc/hostname") == nil)
        #expect(BuildID.ofELF("/nonexistent") == nil)
        // A note running past the end is not read.
        #expect(Array(bytes.dropLast(4)).withUnsafeBytes { BuildID.find(in: $0) } == nil)
    }
}
