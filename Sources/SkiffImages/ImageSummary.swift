import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// What `create` needs of an image, kept in `image-summaries/<manifest hex>`
/// so that `run` reads one small file instead of decoding the manifest and
/// the config with Codable.
///
/// A summary is a pure function of its manifest: the manifest's digest fixes
/// the config's digest, which fixes the config. So it can never be stale,
/// whatever tag, rmi, load, build or prune did meanwhile: a lookup goes
/// through index.json to the manifest digest first, and only then to the
/// summary of that digest. It can only be missing or damaged, and then the
/// caller takes the full path (and writes it again). The file is the JSON
/// body, a newline, and the body's FNV-1a checksum (16 hex digits), so a
/// truncated or damaged file is noticed.
public struct ImageSummary: Equatable, Sendable {
    static let version = 1

    public var manifestDigest: Digest
    public var configDigest: Digest
    /// The config's execution parameters (nil where the config has none).
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var env: [String]?
    public var workingDir: String?
    public var user: String?
    /// The layers' diff_ids, bottom first.
    public var diffIDs: [Digest]

    /// The image ID as Docker shows it: "sha256:<config digest hex>".
    public var id: String { configDigest.description }

    public init(manifestDigest: Digest, configDigest: Digest, entrypoint: [String]?, cmd: [String]?,
                env: [String]?, workingDir: String?, user: String?, diffIDs: [Digest]) {
        self.manifestDigest = manifestDigest
        self.configDigest = configDigest
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.env = env
        self.workingDir = workingDir
        self.user = user
        self.diffIDs = diffIDs
    }

    public init(_ image: Image) {
        let config = image.config.config
        self.init(manifestDigest: image.manifestDigest, configDigest: image.configDigest,
                  entrypoint: config?.entrypoint, cmd: config?.cmd, env: config?.env,
                  workingDir: config?.workingDir, user: config?.user, diffIDs: image.config.rootfs.diffIDs)
    }

    /// The file's bytes: canonical JSON, "\n", its checksum in hex, "\n".
    public func encoded() -> [UInt8] {
        var json = JSONWriter(capacity: 512)
        json.beginObject()
        json.member("cmd", cmd)
        json.member("config", configDigest.description)
        json.member("diffIDs", diffIDs.map(\.description))
        json.member("entrypoint", entrypoint)
        json.member("env", env)
        json.member("manifest", manifestDigest.description)
        json.member("user", user)
        json.member("version", Int64(Self.version))
        json.member("workingDir", workingDir)
        json.endObject()
        var bytes = json.bytes
        let check = Checksum.fnv1a64Hex(bytes)
        bytes.append(UInt8(ascii: "\n"))
        bytes.append(contentsOf: Array(check.utf8))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// Parses a summary file; nil when it is damaged, of another version,
    /// or not the summary of `manifest`.
    public init?(decoding bytes: [UInt8], manifest: Digest) {
        // JSON, "\n", 16 hex digits, "\n".
        let tail = 18
        guard bytes.count > tail, bytes[bytes.count - 1] == 0x0A, bytes[bytes.count - tail] == 0x0A else { return nil }
        let body = bytes[..<(bytes.count - tail)]
        let check = String(decoding: bytes[(bytes.count - tail + 1)..<(bytes.count - 1)], as: UTF8.self)
        guard Checksum.fnv1a64Hex(body) == check, let json = JSONValue.parse(Array(body)),
              json["version"]?.int64 == Int64(Self.version),
              let manifestText = json["manifest"]?.string, manifestText == manifest.description,
              let configText = json["config"]?.string, let config = try? Digest(parsing: configText),
              let diffTexts = json["diffIDs"]?.strings else { return nil }
        var diffIDs: [Digest] = []
        for text in diffTexts {
            guard let digest = try? Digest(parsing: text) else { return nil }
            diffIDs.append(digest)
        }
        func strings(_ key: String) -> [String]?? {
            guard let value = json[key] else { return .some(nil) }
            return value.strings.map { .some($0) }
        }
        func text(_ key: String) -> String?? {
            guard let value = json[key] else { return .some(nil) }
            return value.string.map { .some($0) }
        }
        guard let entrypoint = strings("entrypoint"), let cmd = strings("cmd"), let env = strings("env"),
              let workingDir = text("workingDir"), let user = text("user") else { return nil }
        self.init(manifestDigest: manifest, configDigest: config, entrypoint: entrypoint, cmd: cmd, env: env,
                  workingDir: workingDir, user: user, diffIDs: diffIDs)
    }
}

/// An image as `run` uses it: its summary and its unpacked layers.
public struct RunnableImage: Sendable {
    public var summary: ImageSummary
    /// The unpacked layer directories, bottom first (see `layerDirectories`).
    public var layerDirectories: [String]
}

extension ImageStore {
    public var summariesPath: String { root.path + "/image-summaries" }

    func summaryPath(_ manifest: Digest) -> String { summariesPath + "/" + manifest.hex }

    /// `run`'s image lookup, with the semantics of `resolve(_:)` followed by
    /// `layerDirectories(for:)`, but from index.json (read without Codable)
    /// and the image's summary. nil whenever this path cannot answer for
    /// sure: no summary yet, a damaged one, an image index, a layer not
    /// unpacked, a name that resolves to nothing or to an error. The caller
    /// then takes the full path, which gives the answer or the error.
    public func quickResolve(_ nameOrID: String) -> RunnableImage? {
        guard let bytes = try? Files.read(indexPath), let index = Index(scanning: bytes) else { return nil }
        let found = try? lookup(nameOrID, index: index, load: { descriptor, _ in summary(for: descriptor) },
                                configDigest: \.configDigest)
        guard case .found(let summary)? = found else { return nil }
        var directories: [String] = []
        directories.reserveCapacity(summary.diffIDs.count)
        for diffID in summary.diffIDs {
            let directory = root.layer(digestHex: diffID.hex)
            guard Files.isDirectory(directory),
                  (try? LayerLinks.ensure(root: root, layerDirectory: directory)) != nil else { return nil }
            directories.append(directory)
        }
        return RunnableImage(summary: summary, layerDirectories: directories)
    }

    /// The summary of the manifest `descriptor` names; nil when there is
    /// none (or a damaged one), or the descriptor is an image index.
    func summary(for descriptor: Descriptor) -> ImageSummary? {
        guard MediaType.isManifest(descriptor.mediaType),
              let bytes = try? Files.read(summaryPath(descriptor.digest)) else { return nil }
        return ImageSummary(decoding: bytes, manifest: descriptor.digest)
    }

    /// Writes the summary of `image` for the next `run`. Best effort: a
    /// failure only means that `run` takes the full path again.
    public func rememberSummary(of image: Image) {
        let summary = ImageSummary(image)
        if let bytes = try? Files.read(summaryPath(summary.manifestDigest)),
           ImageSummary(decoding: bytes, manifest: summary.manifestDigest) == summary { return }
        try? Files.makeDirectories(summariesPath)
        try? writeAtomically(summaryPath(summary.manifestDigest), summary.encoded())
    }

    /// Removes the summary of `manifest`, if any (its blob is going).
    func forgetSummary(_ manifest: Digest) {
        unlink(summaryPath(manifest))
    }
}

extension Index {
    /// index.json read without Codable: the entries' media types, digests,
    /// sizes and annotations (what `resolve` looks at). nil when the file
    /// is not the shape Skiff writes; the caller then uses `readIndex()`.
    init?(scanning bytes: [UInt8]) {
        guard let json = JSONValue.parse(bytes), let entries = json["manifests"]?.array else { return nil }
        var manifests: [Descriptor] = []
        manifests.reserveCapacity(entries.count)
        for entry in entries {
            guard let mediaType = entry["mediaType"]?.string, let digestText = entry["digest"]?.string,
                  let digest = try? Digest(parsing: digestText), let size = entry["size"]?.int64 else { return nil }
            var annotations: [String: String]? = nil
            if let value = entry["annotations"], value != .null {
                guard let map = value.stringMap else { return nil }
                annotations = map
            }
            manifests.append(Descriptor(mediaType: mediaType, digest: digest, size: size, annotations: annotations))
        }
        self.init(manifests: manifests)
    }
}
