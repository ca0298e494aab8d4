import CArchive
import Foundation
import SkiffCommon
import SkiffImages
import Testing
@testable import SkiffBuild

/// COPY's view of the context and of an image, without root: symlinks that
/// lead out of the context are refused, an image's layers stack as overlay
/// stacks them, and destinations keep the image's directory modes.
@Suite("build: source trees")
struct BuildTreeTests {
    func withDirectory<T>(_ body: (String) throws -> T) throws -> T {
        let dir = "/tmp/skiff-test-tree-\(UUID().uuidString.prefix(8))"
        try Files.makeDirectories(dir)
        defer { try? Files.removeTree(dir) }
        return try body(dir)
    }

    @Test func contextRefusesEveryWayOut() throws {
        try withDirectory { dir in
            try Files.makeDirectories(dir + "/ctx/sub")
            try Files.writeAtomically(dir + "/outside", "secret\n")
            try Files.writeAtomically(dir + "/ctx/sub/file", "inside\n")
            #expect(symlink("../../outside", dir + "/ctx/sub/up") == 0)
            #expect(symlink(dir + "/outside", dir + "/ctx/abs") == 0)
            #expect(symlink(dir + "/ctx/sub/file", dir + "/ctx/absInside") == 0)
            #expect(symlink("sub", dir + "/ctx/alias") == 0)
            let tree = try ContextTree(root: dir + "/ctx", ignore: DockerIgnore(""))
            for source in ["../outside", "sub/up", "abs", "sub/../../outside"] {
                #expect(throws: SkiffError.self, "\(source)") {
                    _ = try CopySelection.select([source], in: tree, instruction: "COPY")
                }
            }
            #expect(throws: SkiffError.self) { _ = try CopySelection.select(["sub"], in: tree, instruction: "COPY") }
            let inside = try CopySelection.select(["absInside", "alias/file", "/sub/fil?"], in: tree, instruction: "COPY")
            #expect(inside.map { $0.items[0].contents } == Array(repeating: Array("inside\n".utf8), count: 3))
        }
    }

    @Test func ignoredFilesAreInvisibleUnlessReincluded() throws {
        try withDirectory { dir in
            for name in ["a.txt", "b.log", "docs/x.md", "docs/keep.md"] {
                try Files.makeDirectories(dir + "/" + (name.contains("/") ? "docs" : ""))
                try Files.writeAtomically(dir + "/" + name, name)
            }
            let tree = try ContextTree(root: dir, ignore: DockerIgnore("*.log\ndocs\n!docs/keep.md\n"))
            let all = try CopySelection.select(["."], in: tree, instruction: "COPY")
            #expect(all[0].items.map { $0.relative.joined(separator: "/") } == ["", "a.txt", "docs", "docs/keep.md"])
            #expect(throws: SkiffError.self) { _ = try CopySelection.select(["b.log"], in: tree, instruction: "COPY") }
            let digest = CopySelection.digest(all)
            try Files.writeAtomically(dir + "/b.log", "changed")
            #expect(CopySelection.digest(try CopySelection.select(["."], in: tree, instruction: "COPY")) == digest)
            try Files.writeAtomically(dir + "/a.txt", "changed")
            #expect(CopySelection.digest(try CopySelection.select(["."], in: tree, instruction: "COPY")) != digest)
        }
    }

    @Test(.enabled(if: getuid() == 0, "an overlay whiteout needs mknod and an opaque mark a trusted.* xattr: root's"))
    func imageLayersStackWithWhiteoutsAndOpaqueDirectories() throws {
        try withDirectory { dir in
            let (lower, upper) = (dir + "/lower", dir + "/upper")
            try Files.makeDirectories(lower + "/etc/conf.d")
            try Files.makeDirectories(lower + "/tmp")
            #expect(chmod(lower + "/tmp", 0o1777) == 0)
            try Files.writeAtomically(lower + "/etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/app:/bin/sh\n")
            try Files.writeAtomically(lower + "/etc/gone", "x")
            try Files.writeAtomically(lower + "/etc/conf.d/old", "x")
            #expect(symlink("/etc", lower + "/config") == 0)
            try Files.makeDirectories(upper + "/etc/conf.d")
            try Files.writeAtomically(upper + "/etc/conf.d/new", "y")
            #expect(mknod(upper + "/etc/gone", S_IFCHR | 0o600, 0) == 0)
            let y: [UInt8] = [0x79]
            #expect(y.withUnsafeBytes { setxattr(upper + "/etc/conf.d", "trusted.overlay.opaque", $0.baseAddress, 1, 0) } == 0)
            let image = ImageTree(layersBottomFirst: [lower, upper], label: "the image")
            #expect(image.list(["etc"]) == ["conf.d", "passwd"])
            #expect(image.list(["etc", "conf.d"]) == ["new"])
            #expect(image.info(["etc", "gone"]) == nil)
            #expect(try image.resolve(["config", "passwd"], followLast: true, shown: "x") == ["etc", "passwd"])
            #expect(try image.resolve(["..", "..", "config"], followLast: true, shown: "x") == ["etc"])

            let owner = try CopyOwnership.parse(chown: "app", chmod: nil, image: image)
            #expect((owner.uid, owner.gid) == (1000, 1001))
            #expect(throws: SkiffError.self) { _ = try CopyOwnership.parse(chown: "nobody", chmod: nil, image: image) }
            let tmp = Builder.parentDirectories(of: [["tmp", "file"], ["new", "dir", "."]], image: image)
            #expect(tmp.map(\.path) == ["tmp", "new", "new/dir"])
            #expect(tmp.map(\.mode) == [0o1777, 0o755, 0o755])
        }
    }

    @Test func archivesAreRecognisedByContent() throws {
        #expect(Builder.isArchive([0x1f, 0x8b, 8, 0]))
        #expect(Builder.isArchive(Array("BZh91AY".utf8)))
        #expect(!Builder.isArchive(Array("just text".utf8)))
        var tar = [UInt8](repeating: 0, count: 512)
        tar.replaceSubrange(257..<262, with: Array("ustar".utf8))
        #expect(Builder.isArchive(tar))
        #expect(throws: SkiffError.self) { _ = try Builder.port("http") }
        #expect(try Builder.port("53/UDP") == "53/udp")
        #expect(try Builder.port("80") == "80/tcp")
    }
}
