import Foundation
import SkiffCommon
@testable import SkiffEngine
@testable import SkiffImages
import SkiffKernel
import Testing

/// A second image whose config differs from `imageTestMakeImage`'s.
@discardableResult
private func makeOtherImage(_ store: ImageStore, tag: String) throws -> Descriptor {
    let layer = try LayerWriter.write([.directory("srv"), .file("srv/other", "other")])
    let layerDescriptor = try store.writeBlob(layer.bytes, mediaType: MediaType.layerGzip)
    let config = ImageConfig(architecture: "amd64", os: "linux",
                             config: .init(user: "nobody", env: ["A=1", "B=x\"y\\z\n"], entrypoint: ["/bin/echo"],
                                           cmd: ["é", "\u{1}"], workingDir: "/srv"),
                             rootfs: .init(diffIDs: [layer.diffID]))
    let configDescriptor = try store.writeJSONBlob(config, mediaType: MediaType.config)
    let manifest = try store.writeJSONBlob(Manifest(config: configDescriptor, layers: [layerDescriptor]),
                                           mediaType: MediaType.manifest)
    try store.tag(manifest, as: try ImageReference(parsing: tag))
    return manifest
}

/// What `run`'s full path gives: the image, its layers unpacked, its summary written.
@discardableResult
private func resolveFully(_ store: ImageStore, _ name: String) throws -> (Image, [String]) {
    let image = try #require(try store.resolve(name))
    let directories = try store.layerDirectories(for: image)
    store.rememberSummary(of: image)
    return (image, directories)
}

/// A store with app:1 and other:1, both resolved the full way (summaries written).
private func withTwoResolvedImages(_ body: (ImageStore, Image, Image) throws -> Void) throws {
    try withImageTestRoot { root in
        let store = ImageStore(root: root)
        try imageTestMakeImage(store, tag: "app:1")
        try makeOtherImage(store, tag: "other:1")
        let (app, _) = try resolveFully(store, "app:1")
        let (other, _) = try resolveFully(store, "other:1")
        try body(store, app, other)
    }
}

@Suite("Image summaries (run's quick image lookup)")
struct ImageSummaryTests {
    @Test func theQuickPathGivesWhatTheFullPathGives() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            try makeOtherImage(store, tag: "other:1")
            // No summary yet: the quick path cannot answer.
            #expect(store.quickResolve("other:1") == nil)
            let (image, directories) = try resolveFully(store, "other:1")
            #expect(Files.exists(store.summariesPath + "/" + image.manifestDigest.hex))
            for name in ["other:1", "docker.io/library/other:1", "other@" + image.manifestDigest.description,
                         image.id, String(image.configDigest.hex.prefix(5))] {
                let quick = try #require(store.quickResolve(name), "\(name)")
                #expect(quick.summary == ImageSummary(image))
                #expect(quick.layerDirectories == directories)
            }
            let summary = ImageSummary(image)
            #expect(summary.id == image.id)
            #expect(summary.entrypoint == ["/bin/echo"] && summary.cmd == ["é", "\u{1}"])
            #expect(summary.env == ["A=1", "B=x\"y\\z\n"] && summary.user == "nobody" && summary.workingDir == "/srv")
            // Names the store does not have are left to the full path.
            #expect(store.quickResolve("other:2") == nil)
            #expect(store.quickResolve("Not A Name") == nil)
            #expect(store.quickResolve("other@" + Digest.of([1]).description) == nil)
        }
    }

    @Test func aRetagLeadsToTheOtherImagesSummaryNeverAStaleOne() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            try imageTestMakeImage(store, tag: "app:1")
            let other = try makeOtherImage(store, tag: "other:1")
            let (first, _) = try resolveFully(store, "app:1")
            try resolveFully(store, "other:1")
            #expect(store.quickResolve("app:1")?.summary.id == first.id)
            // app:1 now names the other manifest: its summary answers.
            try store.tag(other, as: try ImageReference(parsing: "app:1"))
            let moved = try #require(store.quickResolve("app:1"))
            #expect(moved.summary.manifestDigest == other.digest)
            #expect(moved.summary.cmd == ["é", "\u{1}"])
            // The first image is untagged but still in index.json by nothing:
            // its ID no longer resolves either way.
            #expect(try store.resolve(first.id) == nil)
            #expect(store.quickResolve(first.id) == nil)
        }
    }

    @Test func rmiAndPruneTakeTheSummaryWithTheImage() throws {
        try withTwoResolvedImages { store, app, other in
            let appSummary = store.summariesPath + "/" + app.manifestDigest.hex
            let otherSummary = store.summariesPath + "/" + other.manifestDigest.hex
            #expect(Files.exists(appSummary) && Files.exists(otherSummary))

            _ = try store.remove("app:1")
            #expect(!Files.exists(appSummary))
            #expect(store.quickResolve("app:1") == nil)
            #expect(store.quickResolve(app.id) == nil)

            // Untagged, then pruned: the summary goes with the manifest.
            #expect(try store.untag(try ImageReference(parsing: "other:1")))
            _ = try store.prune(all: false, containers: { [] })
            #expect(!Files.exists(otherSummary))
            #expect(Files.list(store.summariesPath).isEmpty)
        }
    }

    @Test func aSummaryLeftByACrashIsPrunedAndAReloadedImageStartsAfresh() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            let (manifest, _) = try imageTestMakeImage(store, tag: "app:1")
            let (image, _) = try resolveFully(store, "app:1")
            let archive = try ImageArchive.save(["app:1"], from: store)
            // A summary whose manifest is gone (as a crash between rmi's steps would leave).
            let orphan = store.summariesPath + "/" + Digest.of([9]).hex
            try Files.writeAtomically(orphan, Array("x".utf8))
            _ = try store.remove("app:1")
            #expect(!Files.exists(store.summariesPath + "/" + manifest.digest.hex))
            _ = try store.prune(all: true, containers: { [] })
            #expect(!Files.exists(orphan))

            // Loaded again: the same manifest, layers to unpack again. The
            // quick path waits for the full path to have unpacked them.
            _ = try ImageArchive.load(bytes: archive, into: store)
            #expect(store.quickResolve("app:1") == nil)
            let (again, directories) = try resolveFully(store, "app:1")
            #expect(again.manifestDigest == image.manifestDigest)
            #expect(store.quickResolve("app:1")?.layerDirectories == directories)
        }
    }

    @Test func aMissingLayerDirectoryOrLinkIsLeftToTheFullPath() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            try imageTestMakeImage(store, tag: "app:1")
            let (image, directories) = try resolveFully(store, "app:1")
            // A removed link is made again by the quick path.
            let link = root.layerLinks + "/" + LayerLinks.name(forLayerHex: image.config.rootfs.diffIDs[0].hex)
            unlink(link)
            #expect(store.quickResolve("app:1")?.layerDirectories == directories)
            #expect(Files.exists(link))
            // A removed layer directory needs the unpack of the full path.
            try LayerUnpacker.removeTreeForcibly(directories[0])
            #expect(store.quickResolve("app:1") == nil)
        }
    }

    @Test(arguments: ["truncated", "flipped", "empty", "garbage", "otherManifest", "newerVersion", "directory"])
    func aDamagedSummaryIsIgnoredAndRewritten(damage: String) throws {
        try withTwoResolvedImages { store, image, other in
            let path = store.summariesPath + "/" + image.manifestDigest.hex
            let good = try #require(try Files.read(path))
            switch damage {
            case "truncated": try Files.writeAtomically(path, Array(good.prefix(good.count / 2)))
            case "flipped":
                var bytes = good
                bytes[10] ^= 0x01
                try Files.writeAtomically(path, bytes)
            case "empty": try Files.writeAtomically(path, [])
            case "garbage": try Files.writeAtomically(path, Array(repeating: 0x41, count: 200))
            case "otherManifest":
                try Files.writeAtomically(path, try #require(try Files.read(store.summariesPath + "/" + other.manifestDigest.hex)))
            case "newerVersion":
                // Well formed and checksummed, but of a format this Skiff does not know.
                let body = String(decoding: good.prefix(good.count - 18), as: UTF8.self)
                    .replacingOccurrences(of: "\"version\":1", with: "\"version\":2")
                try Files.writeAtomically(path, Array((body + "\n" + Checksum.fnv1a64Hex(Array(body.utf8)) + "\n").utf8))
            default:
                unlink(path)
                mkdir(path, 0o755)
            }
            #expect(store.quickResolve("app:1") == nil)
            // The ID-prefix lookup needs every image's summary.
            #expect(store.quickResolve(String(other.configDigest.hex.prefix(8))) == nil)
            if damage == "directory" { rmdir(path) }
            // The full path still works, and its summary serves the next lookup.
            try resolveFully(store, "app:1")
            #expect(store.quickResolve("app:1")?.summary == ImageSummary(image))
        }
    }

    @Test func anAmbiguousIDPrefixIsLeftToTheFullPath() throws {
        try withTwoResolvedImages { store, _, _ in
            // Every hex digit: with two images some one-digit prefix may match
            // both; such a prefix must not be answered by the quick path.
            for digit in "0123456789abcdef" {
                let prefix = String(digit)
                let full: Image?? = try? store.resolve(prefix)
                let quick = store.quickResolve(prefix)
                if let full, let full {
                    #expect(quick?.summary.id == full.id)
                } else {
                    #expect(quick == nil)
                }
            }
        }
    }

    @Test func summariesAreWrittenAtomicallyAndOnlyWhenMissing() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            try imageTestMakeImage(store, tag: "app:1")
            let (image, _) = try resolveFully(store, "app:1")
            let path = store.summariesPath + "/" + image.manifestDigest.hex
            let before = try #require(imageTestLstat(path))
            store.rememberSummary(of: image)
            #expect(imageTestLstat(path)?.st_ino == before.st_ino)
            #expect(Files.list(root.tmp).allSatisfy { !$0.hasPrefix("write-") })
            let bytes = try #require(try Files.read(path))
            #expect(ImageSummary(decoding: bytes, manifest: image.manifestDigest) == ImageSummary(image))
        }
    }
}

@Suite("JSON without Codable")
struct JSONTextTests {
    @Test func theReaderReadsWhatJSONEncoderWrites() throws {
        let values = ["", "plain", "a/b", "quote\" back\\slash", "tab\tnl\ncr\r", "\u{0}\u{1}\u{1f}\u{7f}",
                      "é ü 漢字 🙂", "\u{8}\u{c}"]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(["k": values])
        let parsed = try #require(JSONValue.parse(Array(data)))
        #expect(parsed["k"]?.strings == values)
    }

    @Test func theReaderHandlesEscapesNumbersAndNesting() throws {
        let text = #" { "a" : [1, -2.5e3, 0, true, false, null, {"b": {}} ], "s": "\u00e9\ud83d\ude42\/\"", "a2": [] } "#
        let value = try #require(JSONValue.parse(Array(text.utf8)))
        #expect(value["s"]?.string == "é🙂/\"")
        #expect(value["a"]?.array?.count == 7)
        #expect(value["a"]?.array?[0].int64 == 1)
        #expect(value["a"]?.array?[1] == .number("-2.5e3"))
        #expect(value["a"]?.array?[6]["b"] == .object([]))
        #expect(value["a2"] == .array([]))
    }

    @Test(arguments: ["", "{", "{\"a\":1,}", "[1 2]", "01", "1.", "\"\u{1}\"", "\"\\ud800\"", "\"\\x\"",
                      "{} x", "tru", "{\"a\" 1}", "[", "\"abc"])
    func theReaderRejectsMalformedJSON(text: String) {
        #expect(JSONValue.parse(Array(text.utf8)) == nil)
    }

    @Test func theReaderRejectsInvalidUTF8() {
        #expect(JSONValue.parse([0x22, 0xff, 0x22]) == nil)
    }

    @Test func theWriterEscapesEveryASCIICharacterAsJSONEncoderDoes() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for code in 0..<0x80 {
            let text = "x" + String(UnicodeScalar(UInt8(code))) + "é"
            var ours: [UInt8] = []
            JSONWriter.appendQuoted(text, to: &ours)
            let theirs = Array(try encoder.encode([text]).dropFirst().dropLast())
            #expect(ours == theirs, "character \(code)")
        }
    }
}

@Suite("config.json without Codable")
struct ContainerConfigJSONTests {
    private func config(full: Bool, created: Date) -> ContainerConfig {
        var config = ContainerConfig(
            id: String(repeating: "ab", count: 32), name: "n.a-m_e", created: created, image: "busybox",
            imageID: "sha256:" + String(repeating: "0f", count: 32), entrypoint: full ? ["/bin/sh", "-c"] : [],
            cmd: ["echo", "a \"b\" c\\d/e\n\t\u{1}é"], env: ["PATH=/bin", "X="], hostname: "host", workingDir: "/w/x",
            tty: full, openStdin: full, autoRemove: !full, capabilities: ContainerConfig.defaultCapabilities,
            privileged: full, readOnlyRootfs: full, limits: ResourceLimits(),
            binds: full ? ["/a:/b", "/c:/d:ro"] : [], lowerDirs: ["/var/lib/skiff/layers/1", "/l/2"],
            cgroupVersion: full ? .v2 : .v1, cgroupName: "skiff/x", cgroupDirs: full ? [] : ["/sys/fs/cgroup/memory/skiff/x"])
        if full {
            config.limits = ResourceLimits(memoryBytes: 6 * 1024 * 1024, pidsLimit: 31, nanoCpus: 500_000_000)
            config.limits.allowAllDevices = true
            config.securityOpt = ["seccomp=unconfined", "no-new-privileges"]
            config.seccompProfile = "unconfined"
            config.noNewPrivileges = false
            config.user = "1000:1000"
            config.ulimits = [Ulimit(name: "nofile", soft: 1024, hard: 2048), Ulimit(name: "core", soft: -1, hard: -1)]
            config.groupAdd = ["audio", "10"]
            config.usernsMap = UserNamespaceMap(uid: 1000, gid: 1000, count: 1,
                                                subordinate: SubordinateIDs(uid: 100_000, gid: 100_001, count: 65_536))
        }
        return config
    }

    @Test(arguments: [false, true])
    func theBytesAreJSONEncodersBytes(full: Bool) throws {
        let config = config(full: full, created: Date())
        let ours = config.jsonBytes()
        let theirs = Array(try JSONCoding.encoder.encode(config))
        #expect(String(decoding: ours, as: UTF8.self) == String(decoding: theirs, as: UTF8.self))
        // And what load reads back is the same config.
        let back = try JSONCoding.decoder.decode(ContainerConfig.self, from: Data(ours))
        #expect(back.jsonBytes() == ours)
    }

    @Test func everyFieldIsWritten() throws {
        // A field added to ContainerConfig but not to jsonBytes() would be
        // lost from config.json: the full config sets every optional one.
        let config = config(full: true, created: Date())
        let keys = try #require(JSONValue.parse(config.jsonBytes())).objectKeys
        #expect(keys.count == Mirror(reflecting: config).children.count)
    }

    @Test func datesAreWrittenAsJSONEncoderWritesThem() throws {
        var dates = [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 951_782_400.999_9),
                     Date(timeIntervalSince1970: 4_107_542_399.5), Date(timeIntervalSince1970: 1_709_164_800),
                     Date(timeIntervalSince1970: 1_798_761_599.999_999)]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            dates.append(Date(timeIntervalSince1970: Double.random(in: 0..<4_102_444_800, using: &generator)))
        }
        for date in dates {
            let encoder = JSONCoding.encoder
            let theirs = String(decoding: try encoder.encode([date]), as: UTF8.self)
            #expect("[\"" + ContainerConfig.iso8601(date) + "\"]" == theirs, "\(date.timeIntervalSince1970)")
        }
    }
}

extension JSONValue {
    var objectKeys: [String] {
        guard case .object(let members) = self else { return [] }
        return members.map(\.0)
    }
}

@Suite("Container IDs")
struct ContainerIDTests {
    @Test func idsAre64LowercaseHexDigitsAndDiffer() {
        let engine = Engine(root: StateRoot(path: "/tmp/skiff-test-ids-unused"))
        let ids = (0..<50).map { _ in engine.randomID() }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(id.utf8.count == 64 && id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }, "\(id)")
        }
        // Every digit shows up somewhere: no nibble is lost or fixed.
        #expect(Set(ids.joined()).count == 16)
    }
}
