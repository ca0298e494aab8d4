import CArchive
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
/// written with libarchive, never with a `tar` program, streamed: `save`
/// copies each blob from the store into the tar in 1 MiB chunks, `load`
/// copies each file of the tar into a staging directory while hashing it.
/// Loading writes nothing by the archive's paths: blobs are stored by their
/// verified digest, so a hostile archive ("../x", "/abs", links, a blob
/// whose content is not its name) can write nothing outside the store; it
/// is refused before anything reaches the store.
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

    /// A tar of the images `names` (references or image-ID prefixes) of `store`, in memory.
    public static func save(_ names: [String], from store: ImageStore) throws(SkiffError) -> [UInt8] {
        let writer = try ArchiveWriter(compression: .none)
        try save(names, from: store, into: writer)
        return try writer.finish()
    }

    /// The same tar written to `fd` as it is made: blobs are streamed from
    /// the store (and their digests checked on the way), never held whole.
    public static func save(_ names: [String], from store: ImageStore, to fd: Int32) throws(SkiffError) {
        let writer = try ArchiveWriter(compression: .none, fd: fd)
        try save(names, from: store, into: writer)
        _ = try writer.finish()
    }

    private static func save(_ names: [String], from store: ImageStore, into writer: ArchiveWriter) throws(SkiffError) {
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
        try writer.add(.directory("blobs"))
        try writer.add(.directory("blobs/sha256"))
        for digest in blobs.sorted() where store.hasBlob(digest) {
            try writer.addFile("blobs/sha256/" + digest.hex, from: store.blobPath(digest), mode: 0o444, expected: digest)
        }
        try writer.add(.file("index.json", try CanonicalJSON.encode(index)))
        try writer.add(.file("manifest.json", try CanonicalJSON.encode(docker)))
        try writer.add(.file("oci-layout", try CanonicalJSON.encode(ImageLayout())))
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
        let reader = try TarReader(what: path)
        try reader.open(file: path)
        return try load(reader, into: store, what: path)
    }

    /// The same from a descriptor read to its end (`load` from stdin).
    public static func load(fd: Int32, into store: ImageStore) throws(SkiffError) -> LoadResult {
        let reader = try TarReader(what: "the archive on standard input")
        try reader.open(fd: fd)
        return try load(reader, into: store, what: "the archive")
    }

    public static func load(bytes: [UInt8], into store: ImageStore) throws(SkiffError) -> LoadResult {
        let result: Result<LoadResult, SkiffError> = bytes.withUnsafeBytes { raw in
            do throws(SkiffError) {
                let reader = try TarReader(what: "the archive")
                try reader.open(memory: raw)
                return .success(try load(reader, into: store, what: "the archive"))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// One pass over the archive: every regular file is copied into a
    /// staging directory under the store's tmp/ while its sha256 is taken,
    /// so a layer of any size is never held in memory. Nothing reaches the
    /// store before the whole archive is checked; then blobs are renamed
    /// into it. Whatever happens, the staging directory goes.
    static func load(_ reader: TarReader, into store: ImageStore, what: String) throws(SkiffError) -> LoadResult {
        func refuse(_ why: String) -> SkiffError {
            SkiffError(.invalidData, "refusing to load \(what): \(why)")
        }
        let staging = try LoadStaging(root: store.root)
        defer { staging.remove() }
        // 1. Paths and kinds, contents staged and hashed; nothing in the store yet.
        var files: [String: StagedFile] = [:]
        var blobs: [Digest: StagedFile] = [:]
        while let header = try reader.next() {
            let entry = TarReader.describe(header)
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
            var isBlob: Digest? = nil
            if parts.count == 3 && parts[0] == "blobs" {
                guard parts[1] == "sha256", let digest = try? Digest(sha256Hex: String(parts[2])) else {
                    throw refuse("blob \"\(path)\" is not named blobs/sha256/<64 lowercase hex digits>")
                }
                isBlob = digest
            } else if parts.first == "blobs" {
                throw refuse("entry \"\(path)\" is not a blob (blobs/sha256/<hex>)")
            }
            let staged = try staging.stage(reader)
            files[path] = staged
            if let digest = isBlob {
                guard staged.digest == digest else {
                    throw refuse("blob \(digest) is corrupt: its content does not match its name")
                }
                blobs[digest] = staged
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

    private static func loadOCI(files: [String: StagedFile], blobs: [Digest: StagedFile], into store: ImageStore,
                                refuse: (String) -> SkiffError) throws(SkiffError) -> LoadResult {
        let index = try CanonicalJSON.decode(Index.self, from: try files["index.json"]!.json(refuse),
                                             what: "index.json of the archive")
        // 2. Every blob an entry needs is there with its size, before any write.
        var needed: [(digest: Digest, mediaType: String)] = []
        func require(_ d: Descriptor) throws(SkiffError) -> [UInt8] {
            guard let staged = blobs[d.digest] else { throw refuse("blob \(d.digest) (\(d.mediaType)) is missing") }
            guard staged.size == d.size else {
                throw refuse("blob \(d.digest) is \(staged.size) bytes, but its descriptor says \(d.size)")
            }
            needed.append((d.digest, d.mediaType))
            return MediaType.isLayer(d.mediaType) ? [] : try staged.json(refuse)
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
        for (digest, _) in needed { try store.adoptBlob(blobs[digest]!.path, digest: digest) }
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

    private static func loadDocker(files: [String: StagedFile], into store: ImageStore,
                                   refuse: (String) -> SkiffError) throws(SkiffError) -> LoadResult {
        let items = try CanonicalJSON.decode([DockerManifestItem].self, from: try files["manifest.json"]!.json(refuse),
                                             what: "manifest.json of the archive")
        guard !items.isEmpty else { throw refuse("its manifest.json lists no image") }
        var plans: [(config: [UInt8], layers: [(file: StagedFile, mediaType: String)], tags: [ImageReference])] = []
        for item in items {
            guard let configFile = files[item.config] else { throw refuse("config \(item.config) is missing") }
            let configBytes = try configFile.json(refuse)
            let config = try CanonicalJSON.decode(ImageConfig.self, from: configBytes, what: "image config \(item.config)")
            guard config.rootfs.diffIDs.count == item.layers.count else {
                throw refuse("\(item.config) has \(config.rootfs.diffIDs.count) diff_ids but manifest.json lists \(item.layers.count) layers")
            }
            var layers: [(file: StagedFile, mediaType: String)] = []
            for (path, diffID) in zip(item.layers, config.rootfs.diffIDs) {
                guard let file = files[path] else { throw refuse("layer \(path) is missing") }
                let (digest, _) = try ArchiveReader.uncompressedDigest(ofFile: file.path)
                guard digest == diffID else {
                    throw refuse("layer \(path) is corrupt: its uncompressed digest is \(digest), the config says \(diffID)")
                }
                let head = file.head
                let mediaType: String
                if head.starts(with: [0x1f, 0x8b]) { mediaType = MediaType.layerGzip }
                else if head.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) { mediaType = MediaType.layerZstd }
                else { mediaType = MediaType.layer }
                layers.append((file, mediaType))
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
            for layer in plan.layers {
                try store.adoptBlob(layer.file.path, digest: layer.file.digest)
                layerDescriptors.append(Descriptor(mediaType: layer.mediaType, digest: layer.file.digest, size: layer.file.size))
            }
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

/// A file of an archive being loaded, copied to the staging directory.
struct StagedFile {
    var path: String
    var digest: Digest
    var size: Int64
    /// Its first bytes (compression magic).
    var head: [UInt8]

    /// The content of a JSON document (index, manifest, config), which is
    /// read whole: refused beyond 16 MiB.
    func json(_ refuse: (String) -> SkiffError) throws(SkiffError) -> [UInt8] {
        guard size <= 16 << 20 else { throw refuse("a JSON document of \(size) bytes is too large") }
        return try Files.read(path) ?? []
    }
}

/// tmp/load-XXXXXX, removed with everything in it when the load ends (and
/// tmp/ too when this load made it, so a refused archive leaves nothing).
final class LoadStaging {
    let directory: String
    private let madeTmp: String?
    private var count = 0

    init(root: StateRoot) throws(SkiffError) {
        madeTmp = Files.exists(root.tmp) ? nil : root.tmp
        try Files.makeDirectories(root.tmp)
        directory = try LayerUnpacker.makeTemporaryDirectory(in: root.tmp, prefix: "load-")
    }

    /// Copies the reader's current entry into a new staging file.
    func stage(_ reader: TarReader) throws(SkiffError) -> StagedFile {
        count += 1
        let path = directory + "/" + String(count)
        let fd = try syscall("create \(path)") { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
        defer { close(fd) }
        var hasher = Digest.Hasher256()
        var head: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { archive_read_data(reader.archive, $0.baseAddress, $0.count) }
            if n < 0 { try reader.check(Int32(n), "read data from") }
            if n <= 0 { break }
            if head.count < 8 { head += buffer[0..<min(n, 8 - head.count)] }
            let failure: SkiffError? = buffer.withUnsafeBytes { raw in
                let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                hasher.update(chunk)
                do throws(SkiffError) { try Files.writeAll(fd, chunk, what: path) } catch { return error }
                return nil
            }
            if let failure { throw failure }
        }
        return StagedFile(path: path, digest: hasher.finalize(), size: hasher.count, head: head)
    }

    func remove() {
        try? LayerUnpacker.removeTreeForcibly(directory)
        if let madeTmp { rmdir(madeTmp) }
    }
}
