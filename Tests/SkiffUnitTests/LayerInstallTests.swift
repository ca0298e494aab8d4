import Foundation
import SkiffCommon
@testable import SkiffImages
import Testing

/// `LayerUnpacker.install` takes the diff_id in the same pass as the extraction.
@Suite("Layer install: one pass")
struct LayerInstallTests {
    func write(_ bytes: [UInt8], _ path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test func theDigestCoversTheWholeStreamPaddingIncluded() throws {
        try withImageTestRoot { root in
            try Files.makeDirectories(root.path + "/in")
            // A plain tar padded with zero blocks after its end (as `tar` pads to 10 KiB).
            var tar = try ArchiveWriter.write([.directory("d"), .file("d/f", "content")], compression: .none)
            tar += [UInt8](repeating: 0, count: 10240 - tar.count % 10240)
            let path = root.path + "/in/padded.tar"
            try write(tar, path)
            let diffID = Digest.of(tar)
            let (summary, digest) = try LayerUnpacker.unpack(archive: path, into: try {
                try Files.makeDirectories(root.path + "/out"); return root.path + "/out" }(), digesting: true)
            #expect(summary.entries == 2)
            #expect(digest == diffID)
            #expect(try LayerUnpacker.install(archive: path, diffID: diffID, at: root.layers + "/p", staging: root.tmp))
            #expect(try Files.readString(root.layers + "/p/d/f") == "content")
        }
    }

    @Test func aTruncatedGzipLayerIsRefusedAndLeavesNothing() throws {
        try withImageTestRoot { root in
            try Files.makeDirectories(root.path + "/in")
            var entries: [ArchiveEntry] = [.directory("d")]
            for i in 0..<50 { entries.append(.file("d/\(i)", (0..<4000).map { UInt8(truncatingIfNeeded: $0 * i &+ $0 >> 3) })) }
            let layer = try LayerWriter.write(entries)
            let path = root.path + "/in/cut.tar.gz"
            try write(Array(layer.bytes.prefix(layer.bytes.count * 2 / 3)), path)
            let error = #expect(throws: SkiffError.self) {
                try LayerUnpacker.install(archive: path, diffID: layer.diffID, at: root.layers + "/cut", staging: root.tmp)
            }
            #expect(error?.kind == .invalidData)
            #expect(!Files.exists(root.layers + "/cut"))
            #expect(Files.list(root.tmp).isEmpty)
            // The whole layer with a wrong diff_id: refused too.
            try write(layer.bytes, path)
            let wrong = Digest.of(Array("not it".utf8))
            let mismatch = #expect(throws: SkiffError.self) {
                try LayerUnpacker.install(archive: path, diffID: wrong, at: root.layers + "/cut", staging: root.tmp)
            }
            #expect(mismatch?.message.contains("does not match its diff_id") == true)
            #expect(!Files.exists(root.layers + "/cut"))
            #expect(Files.list(root.tmp).isEmpty)
        }
    }
}
