import Foundation
import SkiffCommon
import SkiffImages
import Testing

@Suite("Layer archives")
struct ImageArchiveTests {
    @Test func writtenArchivesListBack() throws {
        let entries: [ArchiveEntry] = [
            .directory("d", mode: 0o750),
            .file("d/f", "data", mode: 0o640),
            .symlink("d/l", to: "/etc/hostname"),
            .hardlink("d/h", to: "d/f", mode: 0o640),
            ArchiveEntry(path: "d/fifo", kind: .fifo, mode: 0o600, uid: 7, gid: 8, mtime: 1_700_000_000),
        ]
        for compression in [ArchiveWriter.Compression.none, .gzip] {
            let bytes = try ArchiveWriter.write(entries, compression: compression)
            let listed = try ArchiveReader.entries(of: bytes, contents: true)
            #expect(listed.map(\.path) == ["d", "d/f", "d/l", "d/h", "d/fifo"])
            #expect(listed[0].kind == .directory && listed[0].mode == 0o750)
            #expect(listed[1].contents == Array("data".utf8) && listed[1].mode == 0o640)
            #expect(listed[2].kind == .symlink(target: "/etc/hostname"))
            #expect(listed[3].kind == .hardlink(target: "d/f"))
            #expect(listed[4].kind == .fifo && listed[4].uid == 7 && listed[4].gid == 8 && listed[4].mtime == 1_700_000_000)
        }
    }

    @Test func layersAreReproducibleAndGzipHasNoTimestampOrName() throws {
        let entries: [ArchiveEntry] = [.file("b", "b"), .directory("a"), .file("a/x", "x"), .hardlink("c", to: "b")]
        let one = try LayerWriter.write(entries)
        let two = try LayerWriter.write(entries.reversed())
        #expect(one.bytes == two.bytes)
        #expect(one.digest == two.digest && one.diffID == two.diffID)
        // gzip header: magic, deflate, FLG = 0 (no FNAME), MTIME = 0.
        #expect(Array(one.bytes.prefix(8)) == [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0])
        // Sorted by path, hard links last; the diff_id is the tar's sha256.
        let tar = try ArchiveWriter.write(LayerWriter.sortedForLayer(entries), compression: .none)
        #expect(Digest.of(tar) == one.diffID)
        #expect(Int64(tar.count) == one.uncompressedSize)
        #expect(try ArchiveReader.entries(of: one.bytes).map(\.path) == ["a", "a/x", "b", "c"])
    }

    @Test func plainAndGzipTarsUnpackWithDotSlashPaths() throws {
        try withImageTestRoot { root in
            let entries: [ArchiveEntry] = [.directory("./"), .directory("./bin"), .file("./bin/tool", "#!/bin/sh\n", mode: 0o755)]
            for compression in [ArchiveWriter.Compression.none, .gzip] {
                let archive = root.path + "/layer-\(compression)"
                try Files.writeAtomically(archive, try ArchiveWriter.write(entries, compression: compression))
                let target = root.path + "/out-\(compression)"
                try Files.makeDirectories(target)
                let summary = try LayerUnpacker.unpack(archive: archive, into: target)
                #expect(summary.entries == 2)
                #expect(access(target + "/bin/tool", X_OK) == 0)
            }
        }
    }

    // MARK: hostile archives

    /// Extracts `entries` through `LayerUnpacker.install` and expects a
    /// refusal naming `entry`, no layer, no staging directory and nothing in
    /// `outside`.
    func expectRefused(_ entries: [ArchiveEntry], entry: String, reason: String, outside: [String],
                       in root: StateRoot) throws {
        let archive = root.path + "/hostile.tar.gz"
        try Files.writeAtomically(archive, try ArchiveWriter.write(entries, compression: .gzip))
        let destination = root.layers + "/hostile"
        #expect {
            try LayerUnpacker.install(archive: archive, diffID: nil, at: destination, staging: root.tmp)
        } throws: { error in
            guard let error = error as? SkiffError else { return false }
            return error.kind == .invalidData && error.message.contains("\"\(entry)\"") && error.message.contains(reason)
        }
        #expect(!Files.exists(destination))
        #expect(Files.list(root.tmp).isEmpty, "staging directory left behind")
        for path in outside {
            #expect(!Files.exists(path), "\(path) was written outside the layer")
        }
    }

    static func randomName() -> String { "skiff-evil-\(UInt64.random(in: 0...UInt64.max))" }

    @Test func dotDotEntriesAreRefused() throws {
        try withImageTestRoot { root in
            try expectRefused([.file("ok", "x"), .file("../evil", "x")], entry: "../evil", reason: "\"..\"",
                              outside: [root.tmp + "/evil", root.path + "/evil"], in: root)
            try expectRefused([.file("a/../../../evil", "x")], entry: "a/../../../evil", reason: "\"..\"",
                              outside: [root.path + "/evil"], in: root)
        }
    }

    @Test func absoluteEntriesAreRefused() throws {
        try withImageTestRoot { root in
            let evil = "/tmp/" + Self.randomName()
            defer { unlink(evil) }
            try expectRefused([.file(evil, "x")], entry: evil, reason: "absolute", outside: [evil], in: root)
        }
    }

    @Test func writingThroughASymlinkIsRefused() throws {
        try withImageTestRoot { root in
            // A symlink out of the layer, then an entry below it.
            let name = Self.randomName()
            defer { unlink("/tmp/" + name) }
            try expectRefused([.symlink("link", to: "/tmp"), .file("link/\(name)", "x")],
                              entry: "link/\(name)", reason: "symlink", outside: ["/tmp/" + name], in: root)

            let outside = root.path + "/outside"
            try Files.makeDirectories(outside)
            try expectRefused([.symlink("up", to: "../../outside"), .file("up/evil", "x")],
                              entry: "up/evil", reason: "symlink", outside: [outside + "/evil"], in: root)
            try expectRefused([.symlink("abs", to: outside), .directory("abs/sub"), .file("abs/sub/evil", "x")],
                              entry: "abs/sub/", reason: "symlink", outside: [outside + "/sub"], in: root)
        }
    }

    @Test func hardLinksOutOfTheLayerAreRefused() throws {
        try withImageTestRoot { root in
            try expectRefused([.hardlink("passwd", to: "../../etc/passwd")], entry: "passwd", reason: "\"..\"",
                              outside: [], in: root)
            try expectRefused([.hardlink("passwd", to: "/etc/passwd")], entry: "passwd", reason: "absolute",
                              outside: [], in: root)
            // Through a symlink of the layer itself.
            try expectRefused([.symlink("etc", to: "/etc"), .hardlink("passwd", to: "etc/passwd")],
                              entry: "passwd", reason: "symlink", outside: [], in: root)
        }
    }

    @Test func deviceNodesAreRefused() throws {
        try withImageTestRoot { root in
            try expectRefused([.directory("dev"), ArchiveEntry(path: "dev/sda", kind: .blockDevice(major: 8, minor: 0), mode: 0o660)],
                              entry: "dev/sda", reason: "block device", outside: [], in: root)
            try expectRefused([ArchiveEntry(path: "null", kind: .characterDevice(major: 1, minor: 3), mode: 0o666)],
                              entry: "null", reason: "character device", outside: [], in: root)
        }
    }

    @Test func installNeverLeavesHalfALayer() throws {
        try withImageTestRoot { root in
            // A truncated archive fails midway.
            var bytes = try ArchiveWriter.write([.file("a", String(repeating: "a", count: 100_000)),
                                                 .file("b", String(repeating: "b", count: 100_000))], compression: .gzip)
            bytes.removeLast(bytes.count / 3)
            let archive = root.path + "/truncated.tar.gz"
            try Files.writeAtomically(archive, bytes)
            #expect(throws: SkiffError.self) {
                try LayerUnpacker.install(archive: archive, diffID: nil, at: root.layers + "/t", staging: root.tmp)
            }
            #expect(!Files.exists(root.layers + "/t"))
            #expect(Files.list(root.tmp).isEmpty)
        }
    }

    @Test(.enabled(if: isRoot, "trusted.* extended attributes need CAP_SYS_ADMIN"))
    func overlayXattrsFromTheArchiveAreDropped() throws {
        try withImageTestRoot { root in
            let entries = [ArchiveEntry(path: "d", kind: .directory, mode: 0o755,
                                        xattrs: ["trusted.overlay.opaque": [0x79], "trusted.skiff": [0x31]])]
            let archive = root.path + "/x.tar"
            try Files.writeAtomically(archive, try ArchiveWriter.write(entries, compression: .none))
            try Files.makeDirectories(root.path + "/out")
            _ = try LayerUnpacker.unpack(archive: archive, into: root.path + "/out")
            #expect(!Whiteout.isOpaque(root.path + "/out/d"))
            #expect(ExtendedAttribute.get(root.path + "/out/d", "trusted.skiff") == [0x31])
            #expect(ExtendedAttribute.get(root.path + "/out/d", "trusted.overlay.opaque") == nil)
        }
    }

    // MARK: whiteouts

    static let upperLayer: [ArchiveEntry] = [
        .directory("a"), .file("a/keep2", "k"), .file("a/.wh.gone", ""),
        .directory("b"), .file("b/.wh..wh..opq", ""), .file("b/new", "n"),
        .file(".wh.top", ""), .file("c/.wh.x", ""),
    ]

    @Test(.enabled(if: isRoot, "overlay whiteouts are 0/0 character devices: mknod needs root"))
    func whiteoutsBecomeOverlayWhiteouts() throws {
        try withImageTestRoot { root in
            let archive = root.path + "/upper.tar.gz"
            try Files.writeAtomically(archive, try ArchiveWriter.write(Self.upperLayer, compression: .gzip))
            let out = root.path + "/out"
            try Files.makeDirectories(out)
            let summary = try LayerUnpacker.unpack(archive: archive, into: out)
            #expect(summary == LayerUnpacker.Summary(entries: 4, whiteouts: 3, opaqueDirectories: 1, contentBytes: 2))  // "k" and "n"
            #expect(Whiteout.isOverlayWhiteout(out + "/a/gone"))
            #expect(Whiteout.isOverlayWhiteout(out + "/top"))
            #expect(Whiteout.isOverlayWhiteout(out + "/c/x"))
            #expect(Whiteout.isOpaque(out + "/b"))
            #expect(!Whiteout.isOpaque(out + "/a"))
            #expect(try Files.readString(out + "/b/new") == "n")
            for marker in ["a/.wh.gone", "b/.wh..wh..opq", ".wh.top", "c/.wh.x"] {
                #expect(!Files.exists(out + "/" + marker))
            }
        }
    }

    @Test(.enabled(if: !isRoot, "as a plain user: root also sets trusted.overlay.opaque"))
    func whiteoutsAsAPlainUser() throws {
        try withImageTestRoot { root in
            let archive = root.path + "/upper.tar.gz"
            try Files.writeAtomically(archive, try ArchiveWriter.write(Self.upperLayer, compression: .gzip))
            // mknod of a 0/0 character device needs no privilege since Linux 5.8;
            // the opaque mark is the user.* one a rootless overlay reads.
            try LayerUnpacker.install(archive: archive, diffID: nil, at: root.layers + "/u", staging: root.tmp)
            let out = root.layers + "/u"
            #expect(Whiteout.isOverlayWhiteout(out + "/a/gone") && Whiteout.isOverlayWhiteout(out + "/top"))
            #expect(Whiteout.isOpaque(out + "/b"))
            #expect(ExtendedAttribute.get(out + "/b", Whiteout.userOpaqueXattr) == [0x79])
            #expect(ExtendedAttribute.get(out + "/b", Whiteout.opaqueXattr) == nil)
            #expect(Files.list(root.tmp).isEmpty)
        }
    }

    @Test(.enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"),
                   "mounting overlayfs needs root (done in a private mount namespace with unshare -m)"))
    func overlayfsHonoursTheConvertedWhiteouts() throws {
        try withImageTestRoot { root in
            let lower: [ArchiveEntry] = [
                .directory("a"), .file("a/gone", "g"), .file("a/keep", "k"),
                .directory("b"), .file("b/old", "o"), .file("top", "t"), .directory("c"), .file("c/x", "x"), .file("c/y", "y"),
            ]
            var dirs: [String] = []
            for (name, entries) in [("lower", lower), ("upper", Self.upperLayer)] {
                let archive = root.path + "/\(name).tar.gz"
                try Files.writeAtomically(archive, try ArchiveWriter.write(entries, compression: .gzip))
                try LayerUnpacker.install(archive: archive, diffID: nil, at: root.layers + "/" + name, staging: root.tmp)
                dirs.append(root.layers + "/" + name)
            }
            let merged = root.path + "/merged"
            try Files.makeDirectories(merged)
            let script = "mount -t overlay overlay -o lowerdir=\(dirs[1]):\(dirs[0]) \(merged) && cd \(merged) && find . | sort"
            let (status, output) = try imageTestRun("/usr/bin/unshare", ["-m", "--propagation", "private", "sh", "-c", script])
            #expect(status == 0, "\(output)")
            #expect(output.split(separator: "\n") == [".", "./a", "./a/keep", "./a/keep2", "./b", "./b/new", "./c", "./c/y"])
        }
    }
}
