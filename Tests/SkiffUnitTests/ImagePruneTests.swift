import Foundation
import SkiffCommon
@testable import SkiffImages
import Testing

/// `image prune` on the store, and its lock against concurrent writers.
@Suite("Image prune")
struct ImagePruneTests {
    @Test func danglingImagesGoFirstThenEveryUnusedOneWithAll() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            let kept = try imageTestMakeImage(store, tag: "kept:1", text: "kept")
            let used = try imageTestMakeImage(store, tag: "used:1", text: "used")
            let dangling = try imageTestMakeImage(store, tag: "gone:1", text: "gone")
            let danglingImage = try #require(try store.resolve("gone:1"))
            #expect(try store.untag(try ImageReference(parsing: "gone:1")))
            try store.addUntagged(dangling.manifest)
            for name in ["kept:1", "used:1"] { _ = try store.layerDirectories(for: try #require(try store.resolve(name))) }
            _ = try store.layerDirectories(for: danglingImage)
            let usedImage = try #require(try store.resolve("used:1"))
            // A stray blob (a crash between writing and tagging) goes too.
            let stray = try store.writeBlob(Array("stray".utf8), mediaType: "application/octet-stream")
            let usage = [ImageUsage(imageID: usedImage.id, lowerDirs: [root.layer(digestHex: used.layer.diffID.hex)])]

            let report = try store.prune(all: false) { usage }
            #expect(report.lines == ["deleted: " + danglingImage.id])
            #expect(report.reclaimedBytes > 0)
            #expect(!store.hasBlob(dangling.layer.digest) && !store.hasBlob(stray.digest))
            #expect(!Files.exists(root.layer(digestHex: dangling.layer.diffID.hex)))
            #expect(LayerLinks.readLink(root.layerLinks + "/" + LayerLinks.name(forLayerHex: dangling.layer.diffID.hex)) == nil)
            #expect(Set(try store.list().flatMap(\.references)) == ["kept:1", "used:1"])

            // Nothing left to prune without -a: zero reclaimed.
            #expect(try store.prune(all: false) { usage } == PruneReport())

            let keptImage = try #require(try store.resolve("kept:1"))
            let all = try store.prune(all: true) { usage }
            #expect(all.lines == ["untagged: kept:1", "deleted: " + keptImage.id])
            #expect(!store.hasBlob(kept.layer.digest))
            #expect(store.hasBlob(used.layer.digest))
            // The used layer stays with its content-size cache file.
            let usedHex = used.layer.diffID.hex
            #expect(Files.list(root.layers).filter { $0 != "l" } == [usedHex, usedHex + ".size"])
            #expect(Files.list(root.layerLinks) == [LayerLinks.name(forLayerHex: used.layer.diffID.hex)])

            // The container is gone: everything goes.
            _ = try store.prune(all: true) { [] }
            #expect(Files.list(store.blobsPath).isEmpty)
            #expect(Files.list(root.layers).filter { $0 != "l" }.isEmpty)
            #expect(Files.list(root.layerLinks).isEmpty)
        }
    }

    @Test func pruneWaitsForAWriterHoldingTheStoreLock() async throws {
        try await withImageTestRootAsync { root in
            let store = ImageStore(root: root)
            // A writer half-way: its blob is written, its tag not yet.
            let writer = try store.lockStore(exclusive: false)
            let blob = try store.writeBlob(Array("being stored".utf8), mediaType: MediaType.layer)
            let pruning = Task.detached { try store.prune(all: true) { [] } }
            try await Task.sleep(nanoseconds: 300_000_000)
            #expect(store.hasBlob(blob.digest), "prune ran while a writer held the lock")
            // The writer finishes: an image that names the blob.
            let layer = try LayerWriter.write([.file("f", "x")])
            let config = ImageConfig(created: nil, architecture: "amd64", os: "linux",
                                     rootfs: .init(diffIDs: [layer.diffID]))
            _ = try store.storeImage(config: config, adding: [layer], tag: try ImageReference(parsing: "fresh:1"))
            writer.release()
            let report = try await pruning.value
            #expect(report.lines.contains("untagged: fresh:1"))
            #expect(!store.hasBlob(blob.digest))
        }
    }

    @Test func linkNamesAreShortStableBase32() {
        let hex = String(repeating: "0123456789abcdef", count: 4)
        let name = LayerLinks.name(forLayerHex: hex)
        #expect(name.count == LayerLinks.nameLength)
        #expect(name == LayerLinks.name(forLayerHex: hex))
        #expect(name.allSatisfy { "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains($0) })
        #expect(name.hasPrefix("AERUKZ4JVPG66"))   // 0x01 0x23 0x45 … in RFC 4648 base32
        #expect(name != LayerLinks.name(forLayerHex: String(hex.reversed())))
    }
}
