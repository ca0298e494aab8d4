import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// `docker save` and `docker load`: an OCI image layout in a tar
///
///     oci-layout
///     index.json        one entry per tag, ref.name "busybox:latest" (and
///                       io.containerd.image.name, as Docker writes it)
///     manifest.json     Docker's own list (Config, RepoTags, Layers), so
///                       `docker load` reads the file too
///     blobs/sha256/<hex>
///
/// written with libarchive, never with a `tar` program. Loading reads every
/// entry into memory and writes nothing by the archive's paths: blobs are
/// stored by their verified digest, so a hostile archive ("../x", "/abs",
/// links, a blob whose content is not its name) can write nothing outside
/// the store; it is refused before anything is written.
public enum ImageArchive {
    public static let containerdNameKey = "io.containerd.image.name"

    /// One image of a `docker save` manifest.json.
    public struct DockerManifestItem: Codable, Hashable, Sendable {
        public var config: String
        public var repoTags: [String]?
        public var layers: [String]

        enum CodingKeys: String, CodingKey {
            case config = "Config"
            case repoTags = "RepoTags"
            case layers = "Layers"
        }
    }

    /// A tar of the images `names` (references or image-ID prefixes) of `store`.
    public static func save(_ names: [String], from store: ImageStore) throws(SkiffError) -> [UInt8] {
        var index = Index()
        var blobs = Set<Digest>()
        var docker: [DockerManifestItem] = []
        var dockerByConfig: [Digest: Int] = [:]
        let storeIndex = try store.readIndex()
        for name in names {
            guard let image = try store.resolve(name) else {
                throw SkiffError(.notFound, "No such image: \(name)")
            }
            guard let entry = try store.indexEntries(of: image, in: storeIndex).first else {
                throw SkiffError(.notFound, "No such image: \(name)")
            }
            var diffIDs = Set<Digest>()
            store.closure(of: entry, blobs: &blobs, diffIDs: &diffIDs)
            // Blobs are verified as they are copied (below); the config and
            // layers of the image itself must all be there.
            for layer in image.manifest.layers { try store.verifyBlob(layer.digest) }
            blobs.insert(image.manifestDigest)
            // Which tags: the one named, or every tag of an image named by ID.
            var tags: [String] = []
            if let reference = try? ImageReference(parsing: name), reference.digest == nil,
               image.references.contains(reference.familiarName) {
                tags = [reference.familiarName]
            } else {
                tags = image.references
            }
            var plain = entry
            plain.annotations = nil
            if tags.isEmpty, !index.manifests.contains(where: { $0.digest == plain.digest }) {
                index.manifests.append(plain)
            }
            for tag in tags where !index.manifests.contains(where: { ImageStore.refName(of: $0) == tag }) {
                var tagged = plain
                tagged.annotations = [AnnotationKey.refName: tag,
                                      containerdNameKey: (try? ImageReference(parsing: tag).fullName) ?? tag]
                index.manifests.append(tagged)
            }
            if let at = dockerByConfig[image.configDigest] {
                docker[at].repoTags = (docker[at].repoTags ?? []) + tags.filter { !(docker[at].repoTags ?? []).contains($0) }
            } else {
                dockerByConfig[image.configDigest] = docker.count
                docker.append(DockerManifestItem(config: "blobs/sha256/" + image.configDigest.hex,
                                                 repoTags: tags.isEmpty ? nil : tags,
                                                 layers: image.manifest.layers.map { "blobs/sha256/" + $0.digest.hex }))
            }
        }
        let writer = try ArchiveWriter(compression: .none)
        try writer.add(.directory("blobs"))
        try writer.add(.directory("blobs/sha256"))
        for digest in blobs.sorted() where store.hasBlob(digest) {
            try writer.add(.file("blobs/sha256/" + digest.hex, try store.readBlob(digest), mode: 0o444))
        }
        try writer.add(.file("index.json", try CanonicalJSON.encode(index)))
        try writer.add(.file("manifest.json", try CanonicalJSON.encode(docker)))
        try writer.add(.file("oci-layout", try CanonicalJSON.encode(ImageLayout())))
        return try writer.finish()
    }

    /// What `load` stored: tagged names, and image IDs loaded without one.
    public struct LoadResult: Hashable, Sendable {
        public var tags: [String] = []
        public var untaggedIDs: [String] = []

        /// Docker's lines: "Loaded image: busybox:latest", "Loaded image ID: sha256:…".
        public var lines: [String] {
            tags.map { "Loaded image: " + $0 } + untaggedIDs.map { "Loaded image ID: " + $0 }
        }
    }

    /// Loads a tar made by `save` (any OCI image layout tar) or by
    /// `docker save` (manifest.json only, the layout before Docker 25).
    public static func load(file path: String, into store: ImageStore) throws(SkiffError) -> LoadResult {
        try load(entries: try ArchiveReader.entries(ofFile: path, contents: true), into: store, what: path)
    }

    public static func load(bytes: [UInt8], into store: ImageStore) throws(SkiffError) -> LoadResult {
        try load(entries: try ArchiveReader.entries(of: bytes, contents: true), into: store, what: "the archive")
    }

    static func load(entries: [ArchiveEntry], into store: ImageStore, what: String) throws(SkiffError) -> LoadResult {
        func refuse(_ why: String) -> SkiffError {
            SkiffError(.invalidData, "refusing to load \(what): \(why)")
        }
        // 1. Paths and kinds: everything is read into memory, nothing written.
        var files: [String: [UInt8]] = [:]
        var blobs: [Digest: [UInt8]] = [:]
        for entry in entries {
            var path = entry.path
            while path.hasPrefix("./") { path.removeFirst(2) }
            if path == "." || path.isEmpty { continue }
            if path.hasPrefix("/") { throw refuse("entry \"\(entry.path)\" is an absolute path") }
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            if parts.contains("..") { throw refuse("entry \"\(entry.path)\" leads outside the archive (\"..\")") }
            if parts.contains("") { throw refuse("entry \"\(entry.path)\" has an empty path component") }
            switch entry.kind {
            case .directory:
                continue
            case .regular:
                break
            default:
                throw refuse("entry \"\(entry.path)\" is not a regular file or directory (links and devices are refused)")
            }
            guard files[path] == nil else { throw refuse("entry \"\(path)\" appears twice") }
            files[path] = entry.contents
            if parts.count == 3 && parts[0] == "blobs" {
                guard parts[1] == "sha256", let digest = try? Digest(sha256Hex: String(parts[2])) else {
                    throw refuse("blob \"\(path)\" is not named blobs/sha256/<64 lowercase hex digits>")
                }
                guard Digest.of(entry.contents) == digest else {
                    throw refuse("blob \(digest) is corrupt: its content does not match its name")
                }
                blobs[digest] = entry.contents
            } else if parts.first == "blobs" {
                throw refuse("entry \"\(path)\" is not a blob (blobs/sha256/<hex>)")
            }
        }
        let isOCI = files["index.json"] != nil
        if isOCI {
            for path in files.keys where !path.hasPrefix("blobs/") &&
                !["index.json", "oci-layout", "manifest.json", "repositories"].contains(path) {
                throw refuse("entry \"\(path)\" is outside blobs/ and not part of an image layout")
            }
            return try loadOCI(files: files, blobs: blobs, into: store, refuse: refuse)
        }
        guard files["manifest.json"] != nil else {
            throw refuse("it has neither index.json (an OCI image layout) nor manifest.json (docker save)")
        }
        return try loadDocker(files: files, into: store, refuse: refuse)
    }

    private static func loadOCI(files: [String: [UInt8]], blobs: [Digest: [UInt8]], into store: ImageStore,
                                refuse: (String) -> SkiffError) throws(SkiffError) -> LoadResult {
        let index = try CanonicalJSON.decode(Index.self, from: files["index.json"]!, what: "index.json of the archive")
        // 2. Every blob an entry needs is there with its size, before any write.
        var needed: [(digest: Digest, mediaType: String)] = []
        func require(_ d: Descriptor) throws(SkiffError) -> [UInt8] {
            guard let bytes = blobs[d.digest] else { throw refuse("blob \(d.digest) (\(d.mediaType)) is missing") }
            guard Int64(bytes.count) == d.size else {
                throw refuse("blob \(d.digest) is \(bytes.count) bytes, but its descriptor says \(d.size)")
            }
            needed.append((d.digest, d.mediaType))
            return bytes
        }
        func requireManifest(_ d: Descriptor) throws(SkiffError) {
            let manifest = try CanonicalJSON.decode(Manifest.self, from: try require(d), what: "manifest \(d.digest)")
            _ = try require(manifest.config)
            for layer in manifest.layers { _ = try require(layer) }
        }
        guard !index.manifests.isEmpty else { throw refuse("its index.json lists no image") }
        for entry in index.manifests {
            if MediaType.isIndex(entry.mediaType) {
                let nested = try CanonicalJSON.decode(Index.self, from: try require(entry), what: "image index \(entry.digest)")
                for manifest in nested.manifests where blobs[manifest.digest] != nil && MediaType.isManifest(manifest.mediaType) {
                    try requireManifest(manifest)
                }
            } else if MediaType.isManifest(entry.mediaType) {
                try requireManifest(entry)
            } else {
                throw refuse("index.json lists \(entry.digest) of media type \(entry.mediaType), not an image")
            }
        }
        // Names, checked before anything is written.
        var named: [(Descriptor, ImageReference)] = []
        var unnamed: [Descriptor] = []
        for entry in index.manifests {
            if let reference = name(of: entry) { named.append((entry, reference)) } else { unnamed.append(entry) }
        }
        // 3. Write the blobs (verified again by writeBlob), then the tags;
        // no prune may collect the blobs before they are tagged.
        let lock = try store.lockStore(exclusive: false)
        defer { lock.release() }
        for (digest, mediaType) in needed where !store.hasBlob(digest) {
            try store.writeBlob(blobs[digest]!, mediaType: mediaType, expected: digest)
        }
        var result = LoadResult()
        for (entry, reference) in named {
            var plain = entry
            plain.annotations = nil
            _ = try store.image(plain)
            try store.tag(plain, as: reference)
            if !result.tags.contains(reference.familiarName) { result.tags.append(reference.familiarName) }
        }
        for entry in unnamed {
            var plain = entry
            plain.annotations = nil
            let image = try store.image(plain)
            try store.addUntagged(plain)
            if !result.untaggedIDs.contains(image.id) { result.untaggedIDs.append(image.id) }
        }
        return result
    }

    /// The name of an index.json entry: ref.name when it is a whole
    /// reference ("busybox:latest"), else io.containerd.image.name (skopeo
    /// and containerd write just the tag into ref.name).
    static func name(of entry: Descriptor) -> ImageReference? {
        let annotations = entry.annotations ?? [:]
        if let full = annotations[containerdNameKey], let reference = try? ImageReference(parsing: full),
           reference.tag != nil, reference.digest == nil {
            return reference
        }
        if let refName = annotations[AnnotationKey.refName], refName.contains(":") || refName.contains("/"),
           let reference = try? ImageReference(parsing: refName), reference.tag != nil, reference.digest == nil {
            return reference
        }
        return nil
    }

    private static func loadDocker(files: [String: [UInt8]], into store: ImageStore,
                                   refuse: (String) -> SkiffError) throws(SkiffError) -> LoadResult {
        let items = try CanonicalJSON.decode([DockerManifestItem].self, from: files["manifest.json"]!,
                                             what: "manifest.json of the archive")
        guard !items.isEmpty else { throw refuse("its manifest.json lists no image") }
        var plans: [(config: [UInt8], layers: [(bytes: [UInt8], mediaType: String)], tags: [ImageReference])] = []
        for item in items {
            guard let configBytes = files[item.config] else { throw refuse("config \(item.config) is missing") }
            let config = try CanonicalJSON.decode(ImageConfig.self, from: configBytes, what: "image config \(item.config)")
            guard config.rootfs.diffIDs.count == item.layers.count else {
                throw refuse("\(item.config) has \(config.rootfs.diffIDs.count) diff_ids but manifest.json lists \(item.layers.count) layers")
            }
            var layers: [(bytes: [UInt8], mediaType: String)] = []
            for (path, diffID) in zip(item.layers, config.rootfs.diffIDs) {
                guard let bytes = files[path] else { throw refuse("layer \(path) is missing") }
                let (digest, _) = try ArchiveReader.uncompressedDigest(of: bytes)
                guard digest == diffID else {
                    throw refuse("layer \(path) is corrupt: its uncompressed digest is \(digest), the config says \(diffID)")
                }
                let mediaType: String
                if bytes.starts(with: [0x1f, 0x8b]) { mediaType = MediaType.layerGzip }
                else if bytes.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) { mediaType = MediaType.layerZstd }
                else { mediaType = MediaType.layer }
                layers.append((bytes, mediaType))
            }
            var tags: [ImageReference] = []
            for tag in item.repoTags ?? [] {
                let reference = try ImageReference(parsing: tag)
                guard reference.digest == nil else { throw refuse("RepoTags entry \(tag) is not a tag") }
                tags.append(reference)
            }
            plans.append((configBytes, layers, tags))
        }
        let lock = try store.lockStore(exclusive: false)
        defer { lock.release() }
        var result = LoadResult()
        for plan in plans {
            var layerDescriptors: [Descriptor] = []
            for layer in plan.layers { layerDescriptors.append(try store.writeBlob(layer.bytes, mediaType: layer.mediaType)) }
            let config = try store.writeBlob(plan.config, mediaType: MediaType.config)
            let manifest = try store.writeJSONBlob(Manifest(config: config, layers: layerDescriptors),
                                                   mediaType: MediaType.manifest)
            let image = try store.image(manifest)
            if plan.tags.isEmpty {
                try store.addUntagged(manifest)
                result.untaggedIDs.append(image.id)
            }
            for tag in plan.tags {
                try store.tag(manifest, as: tag)
                result.tags.append(tag.familiarName)
            }
        }
        return result
    }
}
