import Foundation
import SkiffCommon
import SkiffImages
import Testing

/// Images as stacks of layers on the real binary: deep images, prune, and
/// the layers shown by `show layers` and `explain`.
@Suite("image layers", .enabled(if: isRoot, rootReason))
struct ImageLayerIntegrationTests {
    /// Stacks `count` one-file layers (`/layers/N`) on busybox and tags the result.
    static func makeDeepImage(_ box: Sandbox, count: Int, tag: String) throws -> Image {
        let store = ImageStore(root: StateRoot(path: box.root))
        let base = try #require(try store.resolve("busybox"))
        var config = base.config
        var history = config.history ?? []
        var layers: [LayerBlob] = []
        for n in 1...count {
            let layer = try LayerWriter.write([.directory("layers"), .file("layers/\(n)", "layer \(n)\n")])
            layers.append(layer)
            config.rootfs.diffIDs.append(layer.diffID)
            history.append(ImageConfig.History(created: config.created, createdBy: "add /layers/\(n)"))
        }
        config.history = history
        return try store.storeImage(config: config, baseLayers: base.manifest.layers, adding: layers,
                                    tag: try ImageReference(parsing: tag))
    }

    @Test func imageOf121LayersRunsThroughShortLinks() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        #expect(try box.run(["pull", "busybox"]).code == 0)
        _ = try Self.makeDeepImage(box, count: 120, tag: "deep:120")

        let run = try box.run(["run", "--name", "deep", "deep:120", "sh", "-c",
                               "cat /layers/1 /layers/120; ls /layers | wc -l; test -x /bin/sh && echo busybox"])
        #expect(run.code == 0, "\(run.stderr)")
        #expect(run.out == "layer 1\nlayer 120\n120\nbusybox")

        // Each lower dir has its short link; inspect still shows the real paths.
        let links = try FileManager.default.contentsOfDirectory(atPath: box.root + "/layers/l")
        #expect(links.count == 121)
        #expect(links.allSatisfy { $0.count == LayerLinks.nameLength })
        let inspect = try box.run(["inspect", "deep"])
        let docs = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [[String: Any]])
        let graph = try #require(docs.first?["GraphDriver"] as? [String: Any])
        let lowers = try #require((graph["Data"] as? [String: Any])?["LowerDir"] as? String).split(separator: ":")
        // Skiff's init layer on top, then the image's 121, as Docker lists its -init layer.
        #expect(lowers.count == 122)
        #expect(lowers.first.map(String.init) == box.root + "/init-layer")
        #expect(lowers.dropFirst().allSatisfy { $0.hasPrefix(box.root + "/layers/") && $0.count == box.root.count + 8 + 64 })
        #expect(try box.run(["rm", "deep"]).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func showLayersListsEachLowerDirAndTheUpperDirsChanges() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        #expect(try box.run(["pull", "busybox"]).code == 0)
        #expect(try box.run(["run", "--name", "maker", "busybox", "sh", "-c", "echo hi > /hello"]).code == 0)
        #expect(try box.run(["commit", "maker", "hello:1"]).code == 0)
        let made = try box.run(["run", "--name", "changer", "hello:1", "sh", "-c",
                                "echo more >> /hello; rm /bin/vi; touch /new"])
        #expect(made.code == 0, "\(made.stderr)")
        let store = ImageStore(root: StateRoot(path: box.root))
        let image = try #require(try store.resolve("hello:1"))

        let show = try box.run(["show", "layers", "changer"])
        #expect(show.code == 0, "\(show.stderr)")
        let lines = show.stdout.split(separator: "\n").map(String.init)
        // Top first: the commit's layer, then busybox's, each with its digest and history line.
        let top = try #require(lines.firstIndex { $0.hasPrefix("    2. " + box.root + "/layers/" + image.config.rootfs.diffIDs[1].hex) })
        #expect(lines[top + 1].contains("layer sha256:" + image.manifest.layers[1].digest.hex.prefix(12)))
        #expect(lines[top + 1].contains("made by: skiff commit"))
        #expect(lines[top + 2].hasPrefix("    1. " + box.root + "/layers/" + image.config.rootfs.diffIDs[0].hex))
        #expect(lines[top + 3].contains("made by: skiff: busybox"))
        #expect(lines.contains("    C /hello"))
        #expect(lines.contains("    D /bin/vi"))
        #expect(lines.contains("    A /new"))
        #expect(!show.stdout.contains("Namespaces"))
        // explain has the same section.
        #expect(try box.run(["explain", "changer"]).stdout.contains(lines[top]))
        #expect(try box.run(["show", "bogus", "changer"]).code != 0)
        #expect(try box.run(["rm", "maker", "changer"]).code == 0)
    }

    @Test func tooDeepAnImageIsRefusedClearly() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        #expect(try box.run(["pull", "busybox"]).code == 0)
        _ = try Self.makeDeepImage(box, count: 200, tag: "deeper:200")
        let run = try box.run(["run", "--rm", "deeper:200", "true"])
        #expect(run.code == 125)
        #expect(run.stderr.contains("make 202 lower dirs"), "\(run.stderr)")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }
}

@Suite("image prune", .enabled(if: isRoot, rootReason))
struct ImagePruneIntegrationTests {
    func blobCount(_ box: Sandbox) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: box.root + "/images/blobs/sha256")) ?? []).count
    }

    @Test func pruneRemovesDanglingThenUnusedImages() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        #expect(try box.run(["pull", "busybox"]).code == 0)
        #expect(try box.run(["run", "--name", "p1", "busybox", "sh", "-c", "echo x > /x"]).code == 0)
        let dangling = try box.run(["commit", "p1"]).out
        #expect(try box.run(["commit", "p1", "keep:1"]).code == 0)
        #expect(try box.run(["rm", "p1"]).code == 0)
        #expect(try box.run(["run", "--name", "user", "busybox", "true"]).code == 0)
        let before = blobCount(box)

        // Without -f it asks; anything but y keeps everything.
        let asked = try box.run(["image", "prune"], stdin: "n\n")
        #expect(asked.code == 0)
        #expect(asked.stdout.hasPrefix("WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "))
        #expect(blobCount(box) == before)

        let pruned = try box.run(["image", "prune", "-f"])
        #expect(pruned.code == 0, "\(pruned.stderr)")
        #expect(pruned.stdout.hasPrefix("Deleted Images:\ndeleted: \(dangling)\n\nTotal reclaimed space: "), "\(pruned.stdout)")
        #expect(blobCount(box) < before)
        #expect(!(try box.run(["images"]).out.contains("<none>")))

        // -a: keep:1 has no container; busybox has one (exited) and stays.
        let all = try box.run(["image", "prune", "-a", "-f"])
        #expect(all.out.hasPrefix("Deleted Images:\nuntagged: keep:1\ndeleted: sha256:"), "\(all.stdout)")
        let left = try box.run(["images"]).out
        #expect(left.contains("busybox") && !left.contains("keep"))
        #expect(try box.run(["run", "--rm", "busybox", "true"]).code == 0)

        #expect(try box.run(["rm", "user"]).code == 0)
        let last = try box.run(["image", "prune", "-af"])
        #expect(last.out.contains("untagged: busybox:latest"))
        #expect(blobCount(box) == 0)
        let layers = try FileManager.default.contentsOfDirectory(atPath: box.root + "/layers")
        #expect(layers.filter { $0 != "l" }.isEmpty)
        #expect(try box.run(["image", "prune", "-f"]).out == "Total reclaimed space: 0B")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }
}

/// save and load stream their blobs: memory stays far below the image's size.
@Suite("image save and load stream", .enabled(if: isRoot, rootReason))
struct ImageStreamingTests {
    /// busybox plus a layer of 96 MiB of random (incompressible) bytes.
    func makeBigImage(_ box: Sandbox) throws {
        #expect(try box.run(["pull", "busybox"]).code == 0)
        let made = try box.run(["run", "--name", "big", "busybox", "sh", "-c",
                                "head -c 100663296 /dev/urandom > /big.bin"], timeout: 120)
        #expect(made.code == 0, "\(made.stderr)")
        let commit = try box.run(["commit", "big", "big:1"], timeout: 120)
        #expect(commit.code == 0, "\(commit.stderr)")
        #expect(try box.run(["rm", "big"]).code == 0)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/time"), "needs GNU time for the peak memory"))
    func aBigImageGoesThroughAPipeInLittleMemory() throws {
        let box = Sandbox(), other = Sandbox()
        defer { box.cleanUp(); other.cleanUp() }
        try makeBigImage(box)
        let result = try imageCommandRun("/bin/sh", ["-c", """
            /usr/bin/time -f 'save %M' env SKIFF_ROOT="$A" "$SKIFF" save big:1 2>"$A/save.time" |
            /usr/bin/time -f 'load %M' env SKIFF_ROOT="$B" "$SKIFF" load; cat "$A/save.time"
            """], env: ["A": box.root, "B": other.root, "SKIFF": Sandbox.skiff])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("Loaded image: big:1"), "\(result.output)")
        for line in result.output.split(separator: "\n") where line.hasPrefix("save ") || line.hasPrefix("load ") {
            let kib = Int(line.split(separator: " ")[1]) ?? 0
            // The layer alone is 96 MiB; streaming keeps each side well under half of that.
            #expect(kib > 0 && kib < 48 * 1024, "\(line) KiB")
        }
        let run = try other.run(["run", "--rm", "big:1", "sh", "-c", "wc -c < /big.bin"], timeout: 120)
        #expect(run.out == "100663296", "\(run.stderr)")
        #expect(Files.list(other.root + "/tmp").allSatisfy { !$0.hasPrefix("load-") })
    }

    @Test func aCorruptBlobOrATruncatedArchiveLeavesNothing() throws {
        let box = Sandbox(), other = Sandbox()
        defer { box.cleanUp(); other.cleanUp() }
        #expect(try box.run(["pull", "busybox"]).code == 0)
        let tar = box.root + "/busybox.tar"
        #expect(try box.run(["save", "-o", tar, "busybox"]).code == 0)

        // Truncated: refused, nothing stored, no staging left.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: tar))
        let cut = box.root + "/cut.tar"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
        let load = try other.run(["load", "-i", cut])
        #expect(load.code == 1)
        #expect(!load.stderr.isEmpty)
        #expect(Files.list(other.root + "/images/blobs/sha256").isEmpty)
        #expect(Files.list(other.root + "/tmp").allSatisfy { !$0.hasPrefix("load-") })

        // A blob changed on disk: save says so and leaves no file.
        let store = ImageStore(root: StateRoot(path: box.root))
        let image = try #require(try store.resolve("busybox"))
        let blob = store.blobPath(image.manifest.layers[0].digest)
        let handle = try #require(FileHandle(forWritingAtPath: blob))
        try handle.seek(toOffset: 100)
        try handle.write(contentsOf: Data([0x00, 0x01, 0x02]))
        try handle.close()
        let out = box.root + "/corrupt.tar"
        let save = try box.run(["save", "-o", out, "busybox"])
        #expect(save.code == 1)
        #expect(save.stderr.contains("is corrupt"), "\(save.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: box.root)).contains { $0.hasPrefix("corrupt.tar.") })
    }
}
