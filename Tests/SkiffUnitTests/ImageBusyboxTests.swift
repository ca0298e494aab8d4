import Foundation
import SkiffCommon
import SkiffImages
import Testing

let imageTestHasBusybox = FileManager.default.isExecutableFile(atPath: BusyboxImage.defaultBinary)

@Suite("The offline busybox image",
       .enabled(if: imageTestHasBusybox, "needs /bin/busybox from Debian's busybox-static"))
struct ImageBusyboxTests {
    @Test func buildsReproduciblyInTwoRoots() throws {
        let first = try withImageTestRoot { root in try BusyboxImage.build(into: ImageStore(root: root)) }
        let second = try withImageTestRoot { root in try ImageStore(root: root).ensureBusybox() }
        #expect(first.manifestDigest == second.manifestDigest)
        #expect(first.id == second.id)
        #expect(first.manifest.layers.map(\.digest) == second.manifest.layers.map(\.digest))
        #expect(first.config.rootfs.diffIDs == second.config.rootfs.diffIDs)
        #expect(first.references == ["busybox:latest"])
    }

    @Test func configDescribesTheImage() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            let image = try store.ensureBusybox()
            let config = image.config
            #expect(config.os == "linux")
            #expect(config.architecture == Platforms.hostArchitecture)
            #expect(config.created == "1970-01-01T00:00:00Z")
            #expect(image.created == Date(timeIntervalSince1970: 0))
            #expect(config.config?.env == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
            #expect(config.config?.cmd == ["sh"])
            #expect(config.rootfs.type == "layers" && config.rootfs.diffIDs.count == 1)
            let history = try #require(config.history?.first)
            #expect(history.createdBy?.hasPrefix("skiff: busybox v") == true)
            #expect(history.createdBy?.hasSuffix("from the host's busybox-static") == true)
            #expect(store.contentSize(of: image) > 1_000_000)  // the uncompressed binary is in the layer
            #expect(image.compressedSize < store.contentSize(of: image))
        }
    }

    @Test func ensureBusyboxReusesTheTaggedImage() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            let built = try store.ensureBusybox()
            let blob = store.blobPath(built.manifest.layers[0].digest)
            let before = try #require(imageTestLstat(blob))
            let again = try store.pull("busybox")
            #expect(again == built)
            #expect(try #require(imageTestLstat(blob)).st_ino == before.st_ino)  // not rewritten
            #expect(try store.pull("docker.io/library/busybox:latest") == built)
            #expect(try store.pull("busybox@\(built.manifestDigest)") == built)
            #expect(try store.list().map(\.id) == [built.id])
            #expect(throws: SkiffError.self) { try store.pull("busybox:1.36") }
        }
    }

    @Test func layoutIsAValidOCIImageLayout() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            try store.ensureBusybox()
            let layout = root.images
            #expect(try Files.readString(layout + "/oci-layout") == #"{"imageLayoutVersion":"1.0.0"}"#)

            let indexBytes = try #require(try Files.read(layout + "/index.json"))
            let index = try JSONSerialization.jsonObject(with: Data(indexBytes)) as? [String: Any]
            #expect(index?["schemaVersion"] as? Int == 2)
            #expect(index?["mediaType"] as? String == "application/vnd.oci.image.index.v1+json")
            let entries = try #require(index?["manifests"] as? [[String: Any]])
            #expect(entries.count == 1)
            let entry = entries[0]
            #expect(entry["mediaType"] as? String == "application/vnd.oci.image.manifest.v1+json")
            #expect((entry["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] == "busybox:latest")

            // Every blob the index reaches exists, has its size and verifies.
            func blob(_ descriptor: [String: Any]) throws -> [UInt8] {
                let digest = try #require(descriptor["digest"] as? String)
                #expect(digest.hasPrefix("sha256:"))
                let bytes = try #require(try Files.read(layout + "/blobs/sha256/" + digest.dropFirst(7)))
                #expect(bytes.count == descriptor["size"] as? Int)
                #expect(Digest.of(bytes).description == digest)
                return bytes
            }
            let manifest = try #require(try JSONSerialization.jsonObject(with: Data(try blob(entry))) as? [String: Any])
            #expect(manifest["schemaVersion"] as? Int == 2)
            #expect(manifest["mediaType"] as? String == "application/vnd.oci.image.manifest.v1+json")
            let configDescriptor = try #require(manifest["config"] as? [String: Any])
            #expect(configDescriptor["mediaType"] as? String == "application/vnd.oci.image.config.v1+json")
            let config = try #require(try JSONSerialization.jsonObject(with: Data(try blob(configDescriptor))) as? [String: Any])
            let layers = try #require(manifest["layers"] as? [[String: Any]])
            #expect(layers.count == 1)
            #expect(layers[0]["mediaType"] as? String == "application/vnd.oci.image.layer.v1.tar+gzip")
            let layer = try blob(layers[0])
            let rootfs = try #require(config["rootfs"] as? [String: Any])
            #expect(rootfs["type"] as? String == "layers")
            #expect(rootfs["diff_ids"] as? [String] == [try ArchiveReader.uncompressedDigest(of: layer).digest.description])
            let containerConfig = try #require(config["config"] as? [String: Any])
            #expect(containerConfig["Cmd"] as? [String] == ["sh"])
            // Canonical JSON: sorted keys, no escaped slashes.
            let text = String(decoding: indexBytes, as: UTF8.self)
            #expect(!text.contains("\\/"))
        }
    }

    @Test func layerHoldsBusyboxAndHardLinkedApplets() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            let image = try store.ensureBusybox()
            let entries = try ArchiveReader.entries(of: try store.readBlob(image.manifest.layers[0].digest))
            // Reproducible metadata.
            #expect(entries.allSatisfy { $0.mtime == 0 && $0.uid == 0 && $0.gid == 0 })
            let byPath = Dictionary(entries.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            #expect(byPath["bin/busybox"]?.kind == .regular)
            #expect(byPath["bin/busybox"]?.mode == 0o755)
            #expect(byPath["bin/sh"]?.kind == .hardlink(target: "bin/busybox"))
            #expect(byPath["root"]?.mode == 0o700)
            #expect(byPath["tmp"]?.mode == 0o1777)
            #expect(byPath["etc/passwd"] != nil && byPath["etc/group"] != nil)

            let dirs = try store.layerDirectories(for: image)
            #expect(dirs == [root.layers + "/" + image.config.rootfs.diffIDs[0].hex])
            let rootfs = dirs[0]
            #expect(access(rootfs + "/bin/busybox", X_OK) == 0)
            let busybox = try #require(imageTestLstat(rootfs + "/bin/busybox"))
            let sh = try #require(imageTestLstat(rootfs + "/bin/sh"))
            let ls = try #require(imageTestLstat(rootfs + "/bin/ls"))
            #expect(sh.st_ino == busybox.st_ino && ls.st_ino == busybox.st_ino)
            #expect((busybox.st_mode & S_IFMT) == S_IFREG && busybox.st_mode & 0o777 == 0o755)
            #expect(try #require(imageTestLstat(rootfs + "/tmp")).st_mode & 0o7777 == 0o1777)
            #expect(try Files.readString(rootfs + "/etc/passwd")?.hasPrefix("root:x:0:0:root:/root:/bin/sh\n") == true)
            #expect(try Files.readString(rootfs + "/etc/group") == "root:x:0:\nnobody:x:65534:\n")
            // The unpacked busybox runs.
            let (status, output) = try imageTestRun(rootfs + "/bin/sh", ["-c", "echo hi"])
            #expect(status == 0 && output == "hi\n")
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/skopeo"), "needs skopeo"))
    func skopeoInspectsTheLayout() throws {
        try withImageTestRoot { root in
            let image = try ImageStore(root: root).ensureBusybox()
            // oci:PATH:REF splits at the first colon, so a ref with a colon works.
            let (status, output) = try imageTestRun("/usr/bin/skopeo", ["inspect", "oci:\(root.images):busybox:latest"])
            #expect(status == 0, "\(output)")
            let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
            #expect(json?["Digest"] as? String == image.manifestDigest.description)
            #expect(json?["Architecture"] as? String == image.config.architecture)
            #expect((json?["Layers"] as? [String])?.count == 1)
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/umoci"), "needs umoci"))
    func umociUnpacksTheImage() throws {
        try withImageTestRoot { root in
            try ImageStore(root: root).ensureBusybox()
            let bundle = root.path + "/bundle"
            var arguments = ["unpack", "--image", "\(root.images):busybox:latest", bundle]
            if !isRoot { arguments.insert("--rootless", at: 1) }
            let (status, output) = try imageTestRun("/usr/bin/umoci", arguments)
            #expect(status == 0, "\(output)")
            #expect(access(bundle + "/rootfs/bin/busybox", X_OK) == 0)
            #expect(Files.exists(bundle + "/config.json"))
            let sh = try #require(imageTestLstat(bundle + "/rootfs/bin/sh"))
            let busybox = try #require(imageTestLstat(bundle + "/rootfs/bin/busybox"))
            #expect(sh.st_ino == busybox.st_ino)
        }
    }
}
