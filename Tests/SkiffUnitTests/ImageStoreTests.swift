import Foundation
import SkiffCommon
import SkiffImages
import Testing

/// A fresh state root under /tmp for one test, removed afterwards.
func withImageTestRoot<T>(_ body: (StateRoot) throws -> T) throws -> T {
    var template = Array("/tmp/skiff-image-test-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
    guard made else { throw SkiffError.system("mkdtemp") }
    let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    defer { imageTestRemove(path) }
    return try body(StateRoot(path: path))
}

/// rm -rf that also copes with read-only directories.
func imageTestRemove(_ path: String) {
    _ = try? Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+rwx", path]).waitUntilExit()
    try? Files.removeTree(path)
}

/// Runs a program; returns its exit status and standard output and error.
func imageTestRun(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

func imageTestLstat(_ path: String) -> stat? {
    var st = stat()
    return lstat(path, &st) == 0 ? st : nil
}

/// A small one-layer image stored and tagged in `store`.
@discardableResult
func imageTestMakeImage(_ store: ImageStore, tag: String, text: String = "hello",
                        created: String = "2024-05-01T12:00:00.123456789Z") throws -> (manifest: Descriptor, layer: LayerBlob) {
    let layer = try LayerWriter.write([
        .directory("etc"),
        .file("etc/greeting", text),
        .symlink("greeting", to: "etc/greeting"),
        .hardlink("etc/greeting2", to: "etc/greeting"),
    ])
    let layerDescriptor = try store.writeBlob(layer.bytes, mediaType: MediaType.layerGzip)
    let config = ImageConfig(created: created, architecture: "amd64", os: "linux",
                             config: .init(env: ["PATH=/bin"], cmd: ["cat", "/greeting"], labels: ["t": tag]),
                             rootfs: .init(diffIDs: [layer.diffID]),
                             history: [.init(created: created, createdBy: "test")])
    let configDescriptor = try store.writeJSONBlob(config, mediaType: MediaType.config)
    let manifest = try store.writeJSONBlob(Manifest(config: configDescriptor, layers: [layerDescriptor]),
                                           mediaType: MediaType.manifest)
    try store.tag(manifest, as: try ImageReference(parsing: tag))
    return (manifest, layer)
}

@Suite("Image store")
struct ImageStoreTests {
    @Test func blobsRoundTripAndAreVerified() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            let bytes = Array("some blob".utf8)
            let descriptor = try store.writeBlob(bytes, mediaType: "application/octet-stream")
            #expect(descriptor.size == Int64(bytes.count))
            #expect(descriptor.digest.description == "sha256:892f65534dbe7134656b9ebe5b56d763abadbd3b7329d76cbafb6690cf8a241e")
            #expect(Files.exists(root.images + "/blobs/sha256/" + descriptor.digest.hex))
            #expect(try store.readBlob(descriptor.digest) == bytes)
            #expect(try Files.readString(root.images + "/oci-layout") == #"{"imageLayoutVersion":"1.0.0"}"#)
            // No temporary file is left behind.
            #expect(Files.list(root.tmp).allSatisfy { !$0.hasPrefix("write-") })
        }
    }

    @Test func writeBlobChecksTheExpectedDigest() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            let wrong = Digest.of(Array("other".utf8))
            #expect {
                try store.writeBlob(Array("some".utf8), mediaType: "x", expected: wrong)
            } throws: { ($0 as? SkiffError)?.kind == .invalidData }
            #expect(!store.hasBlob(wrong))
        }
    }

    @Test func aCorruptedBlobIsDetected() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            let (manifest, layer) = try imageTestMakeImage(store, tag: "demo:1")
            // Flip one byte of the layer blob.
            let path = store.blobPath(layer.digest)
            var bytes = try #require(try Files.read(path))
            bytes[bytes.count / 2] ^= 0xff
            try Files.writeAtomically(path, bytes)

            let expected = "blob \(layer.digest) is corrupt: its content does not match its digest"
            #expect {
                try store.readBlob(layer.digest)
            } throws: { ($0 as? SkiffError) == SkiffError(.invalidData, expected) }
            #expect {
                try store.verifyBlob(layer.digest)
            } throws: { ($0 as? SkiffError)?.message == expected }
            // Unpacking refuses it too, and leaves no layer or staging directory.
            let image = try #require(try store.resolve("demo:1"))
            #expect(image.manifestDigest == manifest.digest)
            #expect {
                try store.layerDirectories(for: image)
            } throws: { ($0 as? SkiffError)?.message == expected }
            #expect(Files.list(root.layers).isEmpty)
            #expect(Files.list(root.tmp).allSatisfy { !$0.hasPrefix("unpack-") })

            // A corrupted manifest is reported when the image is resolved.
            try Files.writeAtomically(store.blobPath(manifest.digest), Array("{}".utf8))
            #expect {
                try store.resolve("demo:1")
            } throws: { ($0 as? SkiffError)?.message == "blob \(manifest.digest) is corrupt: its content does not match its digest" }
        }
    }

    @Test func aMissingBlobIsNotFound() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            let digest = Digest.of([1, 2, 3])
            #expect {
                try store.readBlob(digest)
            } throws: { ($0 as? SkiffError)?.kind == .notFound }
        }
    }

    @Test func digestsMustBeSha256Hex() {
        for bad in ["sha256:../../etc/passwd", "sha256:ABC", "md5:" + String(repeating: "0", count: 64), "", "sha256:"] {
            #expect(throws: SkiffError.self) { try Digest(parsing: bad) }
        }
        #expect(Digest.of([]).description == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func tagResolveAndList() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            #expect(try store.list().isEmpty)
            #expect(try store.resolve("demo") == nil)

            let (first, _) = try imageTestMakeImage(store, tag: "demo", text: "one")
            let (second, _) = try imageTestMakeImage(store, tag: "localhost:5000/x/y:v2", text: "two",
                                                      created: "2024-06-01T00:00:00Z")
            try store.tag(first, as: try ImageReference(parsing: "docker.io/library/demo:copy"))

            let demo = try #require(try store.resolve("demo"))
            #expect(demo.manifestDigest == first.digest)
            #expect(demo.references == ["demo:copy", "demo:latest"])
            #expect(demo.id == demo.manifest.config.digest.description)
            #expect(demo.shortID.count == 12)
            #expect(demo.config.config?.cmd == ["cat", "/greeting"])
            #expect(demo.created == Image.parseDate("2024-05-01T12:00:00.123456789Z"))
            #expect(demo.created != nil)
            #expect(demo.compressedSize == demo.manifest.layers[0].size)
            #expect(store.contentSize(of: demo) == Int64("one".utf8.count))  // what the layer holds, not its tar

            #expect(try store.resolve("docker.io/library/demo:latest")?.manifestDigest == first.digest)
            #expect(try store.resolve("localhost:5000/x/y:v2")?.manifestDigest == second.digest)
            #expect(try store.resolve("demo:nope") == nil)
            // By digest, by image ID and by ID prefix.
            #expect(try store.resolve("demo@\(first.digest)")?.manifestDigest == first.digest)
            #expect(try store.resolve("other@\(first.digest)") == nil)
            #expect(try store.resolve(demo.id)?.manifestDigest == first.digest)
            #expect(try store.resolve(demo.shortID)?.manifestDigest == first.digest)
            #expect(try store.resolve(demo.configDigest.hex)?.manifestDigest == first.digest)
            #expect(try store.resolve(String(demo.configDigest.hex.prefix(20)))?.manifestDigest == first.digest)
            #expect(throws: SkiffError.self) { try store.resolve("Demo") }

            // Newest first; one entry per manifest.
            let list = try store.list()
            #expect(list.map(\.manifestDigest) == [second.digest, first.digest])
            #expect(list[0].references == ["localhost:5000/x/y:v2"])

            // index.json: sorted, each entry named by its familiar name.
            let index = try store.readIndex()
            #expect(index.schemaVersion == 2)
            #expect(index.mediaType == MediaType.index)
            #expect(index.manifests.map { $0.annotations?[AnnotationKey.refName] } ==
                    ["demo:copy", "demo:latest", "localhost:5000/x/y:v2"])

            // Moving a tag replaces the entry.
            try store.tag(second, as: try ImageReference(parsing: "demo:copy"))
            #expect(try store.resolve("demo:copy")?.manifestDigest == second.digest)
            #expect(try store.readIndex().manifests.count == 3)
            #expect(try store.untag(try ImageReference(parsing: "demo:copy")))
            #expect(try !store.untag(try ImageReference(parsing: "demo:copy")))
            #expect(try store.resolve("demo:copy") == nil)
        }
    }

    @Test func concurrentTagsAreAllKept() async throws {
        try await withImageTestRootAsync { root in
            let store = ImageStore(root: root)
            let (manifest, _) = try imageTestMakeImage(store, tag: "base")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<16 {
                    group.addTask { try store.tag(manifest, as: try ImageReference(parsing: "t\(i):x")) }
                }
                try await group.waitForAll()
            }
            #expect(try store.readIndex().manifests.count == 17)
        }
    }

    @Test func layersUnpackBottomFirstIntoTheirDiffID() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            let (_, layer) = try imageTestMakeImage(store, tag: "demo")
            let image = try #require(try store.resolve("demo"))
            let dirs = try store.layerDirectories(for: image)
            #expect(dirs == [root.layers + "/" + layer.diffID.hex])
            #expect(try Files.readString(dirs[0] + "/etc/greeting") == "hello")
            let a = try #require(imageTestLstat(dirs[0] + "/etc/greeting"))
            let b = try #require(imageTestLstat(dirs[0] + "/etc/greeting2"))
            #expect(a.st_ino == b.st_ino)
            #expect(a.st_mtim.tv_sec == 0)  // mtimes are kept
            let link = try #require(imageTestLstat(dirs[0] + "/greeting"))
            #expect((link.st_mode & S_IFMT) == S_IFLNK)
            // The layer root is traversable by everyone.
            #expect(try #require(imageTestLstat(dirs[0])).st_mode & 0o777 == 0o755)
            // A second call reuses the directory; no staging directory is left.
            #expect(try store.layerDirectories(for: image) == dirs)
            #expect(Files.list(root.tmp).allSatisfy { !$0.hasPrefix("unpack-") })
        }
    }

    @Test func concurrentUnpacksOfOneLayerKeepOneWinner() async throws {
        try await withImageTestRootAsync { root in
            let store = ImageStore(root: root)
            try imageTestMakeImage(store, tag: "demo")
            let image = try #require(try store.resolve("demo"))
            let results = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<8 {
                    group.addTask { try store.layerDirectories(for: image) }
                }
                var all: [[String]] = []
                for try await dirs in group { all.append(dirs) }
                return all
            }
            #expect(Set(results).count == 1)
            #expect(Files.list(root.layers).filter { $0 != "l" && !$0.hasSuffix(".size") }.count == 1)
            #expect(Files.list(root.tmp).allSatisfy { !$0.hasPrefix("unpack-") })
            #expect(try Files.readString(results[0][0] + "/etc/greeting") == "hello")
            // The unpack counted the content ("hello", its hard link once) beside the layer.
            #expect(LayerContentSize.cached(layerDirectory: results[0][0]) == 5)
            #expect(try store.resolve("demo").map(store.contentSize(of:)) == 5)
        }
    }

    @Test func aLayerWhoseDiffIDDoesNotMatchIsRefused() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            let layer = try LayerWriter.write([.file("a", "a")])
            let layerDescriptor = try store.writeBlob(layer.bytes, mediaType: MediaType.layerGzip)
            let wrongDiffID = Digest.of(Array("not the tar".utf8))
            let config = ImageConfig(architecture: "amd64", os: "linux", rootfs: .init(diffIDs: [wrongDiffID]))
            let manifest = try store.writeJSONBlob(
                Manifest(config: try store.writeJSONBlob(config, mediaType: MediaType.config), layers: [layerDescriptor]),
                mediaType: MediaType.manifest)
            try store.tag(manifest, as: try ImageReference(parsing: "bad"))
            let image = try #require(try store.resolve("bad"))
            #expect {
                try store.layerDirectories(for: image)
            } throws: { error in
                let error = error as? SkiffError
                return error?.kind == .invalidData && error?.message.contains("does not match its diff_id \(wrongDiffID)") == true
            }
            #expect(!Files.exists(root.layer(digestHex: wrongDiffID.hex)))
        }
    }

    @Test func pullOfAnotherImageSaysThereIsNoRegistry() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            #expect {
                try store.pull("alpine")
            } throws: {
                ($0 as? SkiffError) == SkiffError(.notFound, "pull access denied for alpine: Skiff has no registry yet; the offline image is busybox")
            }
            #expect {
                try store.pull("busybox:1.36", busyboxBinary: root.path + "/no-busybox")
            } throws: { ($0 as? SkiffError)?.kind == .notFound }
        }
    }

    @Test func aMissingBusyboxTellsHowToInstallIt() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            #expect {
                try store.ensureBusybox(binary: root.path + "/no-busybox")
            } throws: { error in
                let error = error as? SkiffError
                return error?.kind == .notFound
                    && error?.message.hasPrefix("busybox-static is not installed") == true
                    && error?.message.hasSuffix("run apt-get install busybox-static") == true
            }
        }
    }
}

func withImageTestRootAsync<T>(_ body: (StateRoot) async throws -> T) async throws -> T {
    var template = Array("/tmp/skiff-image-test-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
    guard made else { throw SkiffError.system("mkdtemp") }
    let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    defer { imageTestRemove(path) }
    return try await body(StateRoot(path: path))
}
