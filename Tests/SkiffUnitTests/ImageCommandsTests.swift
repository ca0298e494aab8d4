import Foundation
import SkiffCommon
@testable import SkiffImages
import Testing

/// The store operations behind `tag`, `rmi`, `history`, `save` and `load`.
@Suite("Image commands: tag, rmi, history")
struct ImageCommandsTests {
    private func blobNames(_ root: StateRoot) -> Set<String> { Set(Files.list(root.images + "/blobs/sha256")) }

    @Test func tagByIDPrefixAndUntag() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            try imageTestMakeImage(store, tag: "a:1")
            let image = try #require(try store.resolve("a:1"))
            try store.tag(String(image.shortID.prefix(6)), as: "me/b:2")
            let tagged = try #require(try store.resolve("me/b:2"))
            #expect(tagged.configDigest == image.configDigest)
            #expect(tagged.references == ["a:1", "me/b:2"])
            // A digest is not a tag; a missing source is not found.
            #expect(throws: SkiffError.self) { try store.tag("a:1", as: "x@sha256:" + String(repeating: "0", count: 64)) }
            let missing = #expect(throws: SkiffError.self) { try store.tag("nope", as: "x:1") }
            #expect(missing?.kind == .notFound)

            let blobs = blobNames(root)
            #expect(try store.remove("me/b:2") == [.untagged("me/b:2")])
            #expect(try store.resolve("me/b:2") == nil)
            #expect(try store.resolve("a:1")?.references == ["a:1"])
            #expect(blobNames(root) == blobs)
        }
    }

    @Test func removingTheLastTagDeletesUnsharedBlobsAndLayers() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            let one = try imageTestMakeImage(store, tag: "one:1", text: "one")
            let two = try imageTestMakeImage(store, tag: "two:1", text: "two")
            let three = try imageTestMakeImage(store, tag: "three:1", text: "two")   // shares two's layer
            #expect(two.layer.digest == three.layer.digest)
            for name in ["one:1", "two:1", "three:1"] {
                _ = try store.layerDirectories(for: try #require(try store.resolve(name)))
            }
            let oneImage = try #require(try store.resolve("one:1"))
            let events = try store.remove("one:1")
            #expect(events == [.untagged("one:1"), .deleted(oneImage.configDigest)])
            #expect(events.map(\.description) == ["Untagged: one:1", "Deleted: " + oneImage.id])
            #expect(!store.hasBlob(one.manifest.digest))
            #expect(!store.hasBlob(oneImage.configDigest))
            #expect(!store.hasBlob(one.layer.digest))
            #expect(!Files.exists(root.layer(digestHex: one.layer.diffID.hex)))
            #expect(Files.isDirectory(root.layer(digestHex: two.layer.diffID.hex)))

            // The shared layer stays while three:1 uses it.
            _ = try store.remove("two:1")
            #expect(store.hasBlob(two.layer.digest))
            #expect(Files.isDirectory(root.layer(digestHex: two.layer.diffID.hex)))
            #expect(try store.layerDirectories(for: try #require(try store.resolve("three:1"))).count == 1)
            _ = try store.remove("three:1")
            #expect(blobNames(root).isEmpty)
            #expect(Files.list(root.layers).filter { $0 != "l" }.isEmpty)
            #expect(try store.readIndex().manifests.isEmpty)
            let missing = #expect(throws: SkiffError.self) { try store.remove("three:1") }
            #expect(missing?.message == "No such image: three:1")
            #expect(Files.list(root.tmp).allSatisfy { !$0.hasPrefix("write-") })
        }
    }

    @Test func anImageAContainerUsesIsRefusedUnlessForced() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            try imageTestMakeImage(store, tag: "busybox:latest")
            let image = try #require(try store.resolve("busybox"))
            let user = ImageUser(containerID: "abc123def456" + String(repeating: "7", count: 52), running: false)
            let users: (Image) -> [ImageUser] = { $0.id == image.id ? [user] : [] }
            let blobs = blobNames(root)

            let refused = #expect(throws: SkiffError.self) { try store.remove("busybox", users: users) }
            #expect(refused?.kind == .conflict)
            #expect(refused?.message == "conflict: unable to remove repository reference \"busybox\" (must force) - container abc123def456 is using its referenced image \(image.shortID)")
            let byID = #expect(throws: SkiffError.self) { try store.remove(image.shortID, users: users) }
            #expect(byID?.message == "conflict: unable to delete \(image.shortID) (must be forced) - image is being used by stopped container abc123def456")
            #expect(try store.resolve("busybox:latest") != nil)

            // A running container's image cannot be deleted by ID even forced.
            let running: (Image) -> [ImageUser] = { _ in [ImageUser(containerID: user.containerID, running: true)] }
            let cannot = #expect(throws: SkiffError.self) { try store.remove(image.id, force: true, users: running) }
            #expect(cannot?.message.contains("(cannot be forced) - image is being used by running container abc123def456") == true)

            // Forced: untagged, but kept (dangling) for the container.
            #expect(try store.remove("busybox", force: true, users: users) == [.untagged("busybox:latest")])
            #expect(try store.resolve("busybox") == nil)
            let dangling = try store.list()
            #expect(dangling.count == 1 && dangling[0].references.isEmpty && dangling[0].id == image.id)
            #expect(blobNames(root) == blobs)

            // Once the container is gone, the ID deletes it.
            #expect(try store.remove(image.shortID) == [.deleted(image.configDigest)])
            #expect(blobNames(root).isEmpty)
        }
    }

    @Test func anIDWithSeveralTagsNeedsForce() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            try imageTestMakeImage(store, tag: "a:1")
            try store.tag("a:1", as: "b:1")
            let image = try #require(try store.resolve("a:1"))
            let refused = #expect(throws: SkiffError.self) { try store.remove(image.shortID) }
            #expect(refused?.message == "conflict: unable to delete \(image.shortID) (must be forced) - image is referenced in multiple repositories")
            #expect(try store.remove(image.shortID, force: true) ==
                    [.untagged("a:1"), .untagged("b:1"), .deleted(image.configDigest)])
            #expect(blobNames(root).isEmpty)
        }
    }

    @Test func historyIsNewestFirstWithLayerSizes() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            let layer = try LayerWriter.write([.file("a", "hello")])
            let layerDescriptor = try store.writeBlob(layer.bytes, mediaType: MediaType.layerGzip)
            let config = ImageConfig(created: "2024-01-01T00:00:00Z", architecture: "amd64", os: "linux",
                                     rootfs: .init(diffIDs: [layer.diffID]),
                                     history: [.init(created: "2024-01-01T00:00:00Z", createdBy: "ADD a /"),
                                               .init(created: "2024-01-02T00:00:00Z", createdBy: "CMD [\"sh\"]", emptyLayer: true)])
            let configDescriptor = try store.writeJSONBlob(config, mediaType: MediaType.config)
            let manifest = try store.writeJSONBlob(Manifest(config: configDescriptor, layers: [layerDescriptor]),
                                                   mediaType: MediaType.manifest)
            try store.tag(manifest, as: try ImageReference(parsing: "h:1"))
            let rows = store.history(of: try #require(try store.resolve("h:1")))
            #expect(rows.map(\.entry.createdBy) == ["CMD [\"sh\"]", "ADD a /"])
            #expect(rows.map(\.size) == [0, 5])  // "hello": the content, not the tar
        }
    }
}

@Suite("Image commands: save and load")
struct ImageArchiveCommandTests {
    @Test func saveThenLoadIntoAFreshRootGivesIdenticalDigests() throws {
        try withImageTestRoot { first in
            let store = ImageStore(root: first)
            try imageTestMakeImage(store, tag: "a:1", text: "one")
            try imageTestMakeImage(store, tag: "me/b:2", text: "two")
            let bytes = try ImageArchive.save(["a:1", "me/b:2"], from: store)
            #expect(try ImageArchive.save(["a:1", "me/b:2"], from: store) == bytes)   // reproducible
            let names = Set(try ArchiveReader.entries(of: bytes).map(\.path))
            #expect(names.isSuperset(of: ["oci-layout", "index.json", "manifest.json", "blobs", "blobs/sha256"]))
            try withImageTestRoot { second in
                let loaded = ImageStore(root: second)
                let result = try ImageArchive.load(bytes: bytes, into: loaded)
                #expect(result.lines == ["Loaded image: a:1", "Loaded image: me/b:2"])
                for name in ["a:1", "me/b:2"] {
                    let original = try #require(try store.resolve(name))
                    let copy = try #require(try loaded.resolve(name))
                    #expect(copy.manifestDigest == original.manifestDigest)
                    #expect(copy.configDigest == original.configDigest)
                    #expect(copy.references == [name])
                    #expect(try loaded.layerDirectories(for: copy).count == 1)
                }
                #expect(Set(Files.list(second.images + "/blobs/sha256")) == Set(Files.list(first.images + "/blobs/sha256")))
                // Loading again changes nothing.
                let index = try Files.read(loaded.indexPath)
                _ = try ImageArchive.load(bytes: bytes, into: loaded)
                #expect(try Files.read(loaded.indexPath) == index)
            }
        }
    }

    @Test func aDockerSaveTarLoads() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            let tar = try ArchiveWriter.write([.directory("etc"), .file("etc/hello", "hi")], compression: .none)
            let config = ImageConfig(created: "2024-01-01T00:00:00Z", architecture: "amd64", os: "linux",
                                     config: .init(cmd: ["sh"]), rootfs: .init(diffIDs: [Digest.of(tar)]))
            let configBytes = try CanonicalJSON.encode(config)
            let configName = Digest.of(configBytes).hex + ".json"
            let manifest = try CanonicalJSON.encode([ImageArchive.DockerManifestItem(
                config: configName, repoTags: ["old:1"], layers: ["abc/layer.tar"])])
            let archive = try ArchiveWriter.write([
                .file("manifest.json", manifest), .file(configName, configBytes),
                .directory("abc"), .file("abc/layer.tar", tar), .file("abc/VERSION", "1.0"),
            ], compression: .none)
            #expect(try ImageArchive.load(bytes: archive, into: store).lines == ["Loaded image: old:1"])
            let image = try #require(try store.resolve("old:1"))
            #expect(image.configDigest == Digest.of(configBytes))
            #expect(image.manifest.layers.map(\.mediaType) == [MediaType.layer])
            let directory = try #require(try store.layerDirectories(for: image).first)
            #expect(try Files.readString(directory + "/etc/hello") == "hi")
        }
    }

    /// Hostile archives: each is refused before anything is written.
    @Test(arguments: ["dotdot", "dotdotInBlobs", "absolute", "symlink", "hardlink", "mismatch", "badName", "stray", "missingBlob"])
    func hostileArchivesAreRefused(_ kind: String) throws {
        try withImageTestRoot { source in
            let store = ImageStore(root: source)
            try imageTestMakeImage(store, tag: "a:1")
            let good = try ArchiveReader.entries(of: try ImageArchive.save(["a:1"], from: store), contents: true)
            let outside = "/tmp/skiff-hostile-\(UUID().uuidString)"
            let blob = good.first { $0.path.hasPrefix("blobs/sha256/") }!
            var entries = good
            switch kind {
            case "dotdot": entries.append(.file("../" + (outside as NSString).lastPathComponent, "x"))
            case "dotdotInBlobs": entries.append(.file("blobs/sha256/../../../x", "x"))
            case "absolute": entries.append(.file(outside, "x"))
            case "symlink":
                entries.removeAll { $0.path == blob.path }
                entries.append(.symlink(blob.path, to: outside))
            case "hardlink": entries.append(.hardlink("blobs/sha256/" + String(repeating: "a", count: 64), to: "/etc/passwd"))
            case "mismatch":
                entries.removeAll { $0.path == blob.path }
                entries.append(.file(blob.path, "not the content"))
            case "badName": entries.append(.file("blobs/sha256/XYZ", "x"))
            case "stray": entries.append(.file("etc/passwd", "x"))
            default: entries.removeAll { $0.path == blob.path }
            }
            let archive = try ArchiveWriter.write(entries, compression: .none)
            try withImageTestRoot { target in
                let loaded = ImageStore(root: target)
                let error = #expect(throws: SkiffError.self) { try ImageArchive.load(bytes: archive, into: loaded) }
                #expect(error?.kind == .invalidData)
                #expect(Files.list(target.path).isEmpty, "the store root stays empty: \(Files.list(target.path))")
                #expect(!Files.exists(outside))
                #expect(!Files.exists((target.path as NSString).deletingLastPathComponent + "/" + (outside as NSString).lastPathComponent))
            }
        }
    }
}
