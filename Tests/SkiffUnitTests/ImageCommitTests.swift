import CArchive
import Foundation
import SkiffCommon
import SkiffImages
import Testing

/// `skiff commit`'s conversion of an overlay upper dir into an OCI layer.
@Suite("commit: upper dir to layer")
struct ImageCommitTests {
    /// A fresh directory for one test, removed afterwards.
    func withUpperDir<T>(_ body: (String) throws -> T) throws -> T {
        try withImageTestRoot { root in
            let upper = root.path + "/upper"
            try Files.makeDirectories(upper)
            return try body(upper)
        }
    }

    func entriesByPath(_ layer: LayerBlob) throws -> [String: ArchiveEntry] {
        let entries = try ArchiveReader.entries(of: layer.bytes, contents: true)
        #expect(entries.map(\.path) == LayerWriter.sortedForLayer(entries).map(\.path))
        return Dictionary(entries.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func filesDirectoriesSymlinksAndHardLinks() throws {
        try withUpperDir { upper in
            try Files.writeAtomically(upper + "/hello.txt", "hi\n", mode: 0o640)
            try Files.makeDirectories(upper + "/etc/app", mode: 0o750)
            try Files.writeAtomically(upper + "/etc/app/conf", "x=1\n")
            #expect(chmod(upper + "/etc/app", 0o750) == 0)
            #expect(symlink("hello.txt", upper + "/link") == 0)
            #expect(link(upper + "/hello.txt", upper + "/etc/hard") == 0)
            var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, upper + "/etc/app/conf", &times, 0) == 0)

            let layer = try LayerFromDirectory.layer(of: upper)
            #expect(layer.digest == Digest.of(layer.bytes))
            #expect(try ArchiveReader.uncompressedDigest(of: layer.bytes).digest == layer.diffID)
            let entries = try entriesByPath(layer)
            #expect(Set(entries.keys) == ["hello.txt", "etc", "etc/app", "etc/app/conf", "link", "etc/hard"])
            // etc/ is walked first: etc/hard holds the data, hello.txt links to it.
            #expect(entries["etc/hard"]?.kind == .regular)
            #expect(entries["etc/hard"]?.mode == 0o640)
            #expect(entries["etc/hard"]?.contents == Array("hi\n".utf8))
            #expect(entries["etc/hard"]?.uid == getuid())
            #expect(entries["hello.txt"]?.kind == .hardlink(target: "etc/hard"))
            #expect(entries["etc/app"]?.kind == .directory)
            #expect(entries["etc/app"]?.mode == 0o750)
            #expect(entries["etc/app/conf"]?.contents == Array("x=1\n".utf8))
            #expect(entries["etc/app/conf"]?.mtime == 1_000_000)
            #expect(entries["link"]?.kind == .symlink(target: "hello.txt"))
            let links = entries.values.filter { if case .hardlink = $0.kind { return true } else { return false } }
            #expect(links.count == 1)
            // The same directory gives the same layer.
            #expect(try LayerFromDirectory.layer(of: upper).digest == layer.digest)
        }
    }

    @Test func missingDirectoryIsNotFound() throws {
        #expect(throws: SkiffError.self) { try LayerFromDirectory.layer(of: "/nonexistent/skiff-upper") }
    }

    @Test(.enabled(if: getuid() == 0, "needs root for whiteouts"))
    func whiteoutsAndOpaqueDirectories() throws {
        try withUpperDir { upper in
            try Files.makeDirectories(upper + "/bin")
            #expect(mknod(upper + "/bin/vi", S_IFCHR | 0o600, 0) == 0)
            try Files.makeDirectories(upper + "/var/cache", mode: 0o755)
            let y: [UInt8] = Array("y".utf8)
            #expect(y.withUnsafeBytes { setxattr(upper + "/var/cache", "trusted.overlay.opaque", $0.baseAddress, 1, 0) } == 0)
            #expect(y.withUnsafeBytes { setxattr(upper + "/bin", "trusted.overlay.origin", $0.baseAddress, 1, 0) } == 0)
            try Files.writeAtomically(upper + "/var/cache/new", "n")

            let entries = try entriesByPath(try LayerFromDirectory.layer(of: upper))
            #expect(Set(entries.keys) == ["bin", "bin/.wh.vi", "var", "var/cache", "var/cache/.wh..wh..opq", "var/cache/new"])
            #expect(entries["bin/.wh.vi"]?.kind == .regular)
            #expect(entries["bin/.wh.vi"]?.size == 0)
            #expect(entries["var/cache/.wh..wh..opq"]?.kind == .regular)
            #expect(entries.values.allSatisfy { $0.xattrs.keys.allSatisfy { !$0.hasPrefix("trusted.overlay.") } })
        }
    }
}
