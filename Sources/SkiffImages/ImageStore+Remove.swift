import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// A container that uses an image, as `rmi` needs to know it.
public struct ImageUser: Hashable, Sendable {
    public var containerID: String
    public var running: Bool

    public init(containerID: String, running: Bool) {
        self.containerID = containerID
        self.running = running
    }

    var shortID: String { String(containerID.prefix(12)) }
}

/// What `rmi` did, line by line as Docker prints it.
public enum RemoveEvent: Hashable, Sendable, CustomStringConvertible {
    case untagged(String)
    case deleted(Digest)

    public var description: String {
        switch self {
        case .untagged(let name): return "Untagged: " + name
        case .deleted(let digest): return "Deleted: " + digest.description
        }
    }
}

extension ImageStore {
    // MARK: tag

    /// `docker tag SOURCE TARGET`: SOURCE is a reference or an image-ID
    /// prefix, TARGET a reference with a tag.
    @discardableResult
    public func tag(_ source: String, as target: String) throws(SkiffError) -> Image {
        let reference = try ImageReference(parsing: target)
        guard let image = try resolve(source) else {
            throw SkiffError(.notFound, "No such image: \(source)")
        }
        guard let descriptor = try indexEntries(of: image, in: try readIndex()).first else {
            throw SkiffError(.notFound, "No such image: \(source)")
        }
        var plain = descriptor
        plain.annotations = descriptor.annotations?.filter { $0.key != AnnotationKey.refName }
        if plain.annotations?.isEmpty == true { plain.annotations = nil }
        try tag(plain, as: reference)
        return image
    }

    // MARK: rmi

    /// `docker rmi [-f] IMAGE`. A name with other tags left is only untagged.
    /// The last tag, or an image ID, deletes the image with the blobs and
    /// unpacked layers no other image shares, unless a container uses it:
    /// then it is refused, or with `force` only untagged (the image stays,
    /// untagged, for the container). A running container's image is never
    /// removed by ID, forced or not.
    public func remove(_ nameOrID: String, force: Bool = false,
                       users: (Image) -> [ImageUser] = { _ in [] }) throws(SkiffError) -> [RemoveEvent] {
        let lock = try lockStore(exclusive: true)
        defer { lock.release() }
        return try withIndexLock { () throws(SkiffError) -> [RemoveEvent] in
            var index = try readIndex()
            guard let image = try resolve(nameOrID) else {
                throw SkiffError(.notFound, "No such image: \(nameOrID)")
            }
            let entries = try indexEntries(of: image, in: index)
            let entryDigests = Set(entries.map(\.digest))
            // Named by a tag it has (not an ID, not a digest)?
            var byName: ImageReference? = nil
            if let reference = try? ImageReference(parsing: nameOrID), reference.digest == nil,
               image.references.contains(reference.familiarName) {
                byName = reference
            }
            let using = users(image)
            let isMine: (Descriptor) -> Bool = { entryDigests.contains($0.digest) }

            if let reference = byName {
                let name = reference.familiarName
                if image.references.count > 1 {
                    index.manifests.removeAll { isMine($0) && Self.refName(of: $0).map(Self.normalized) == name }
                    try writeIndex(index)
                    return [.untagged(name)]
                }
                if let user = using.first {
                    guard force else {
                        throw SkiffError(.conflict, "conflict: unable to remove repository reference \"\(nameOrID)\" (must force) - container \(user.shortID) is using its referenced image \(image.shortID)")
                    }
                    try keepUntagged(&index, entries: entries, isMine: isMine)
                    return [.untagged(name)]
                }
            } else {
                if image.references.count > 1 && !force {
                    throw SkiffError(.conflict, "conflict: unable to delete \(image.shortID) (must be forced) - image is referenced in multiple repositories")
                }
                if let running = using.first(where: \.running) {
                    throw SkiffError(.conflict, "conflict: unable to delete \(image.shortID) (cannot be forced) - image is being used by running container \(running.shortID)")
                }
                if let user = using.first {
                    guard force else {
                        throw SkiffError(.conflict, "conflict: unable to delete \(image.shortID) (must be forced) - image is being used by stopped container \(user.shortID)")
                    }
                    try keepUntagged(&index, entries: entries, isMine: isMine)
                    return image.references.map { .untagged($0) }
                }
            }
            // Delete: drop every entry of the image, then what only it used.
            index.manifests.removeAll(where: isMine)
            try writeIndex(index)
            var events: [RemoveEvent] = image.references.map { .untagged($0) }
            events.append(.deleted(image.configDigest))
            try collectGarbage(removed: entries, kept: index.manifests)
            return events
        }
    }

    /// Replaces the image's tags with one untagged entry (Docker's dangling
    /// `<none>:<none>` image), which keeps its blobs and layers.
    private func keepUntagged(_ index: inout Index, entries: [Descriptor], isMine: (Descriptor) -> Bool) throws(SkiffError) {
        guard var entry = entries.first else { return }
        entry.annotations = entry.annotations?.filter { $0.key != AnnotationKey.refName }
        if entry.annotations?.isEmpty == true { entry.annotations = nil }
        index.manifests.removeAll(where: isMine)
        index.manifests.append(entry)
        try writeIndex(index)
    }

    /// Deletes the blobs and unpacked layer directories of the `removed`
    /// entries that none of the `kept` entries reference.
    func collectGarbage(removed: [Descriptor], kept: [Descriptor]) throws(SkiffError) {
        var (blobs, diffIDs) = (Set<Digest>(), Set<Digest>())
        for entry in removed { closure(of: entry, blobs: &blobs, diffIDs: &diffIDs) }
        var (keptBlobs, keptDiffIDs) = (Set<Digest>(), Set<Digest>())
        for entry in kept { closure(of: entry, blobs: &keptBlobs, diffIDs: &keptDiffIDs) }
        for digest in blobs.subtracting(keptBlobs).sorted() {
            if unlink(blobPath(digest)) != 0 && errno != ENOENT {
                throw SkiffError.system("remove blob \(blobPath(digest))")
            }
            forgetSummary(digest)
        }
        for diffID in diffIDs.subtracting(keptDiffIDs).sorted() {
            let directory = root.layer(digestHex: diffID.hex)
            LayerLinks.remove(root: root, layerHex: diffID.hex)
            if Files.exists(directory) { try LayerUnpacker.removeTreeForcibly(directory) }
            unlink(LayerContentSize.cachePath(layerDirectory: directory))
        }
    }

    /// Every blob an index entry reaches (itself, nested manifests, configs,
    /// layers) and the diff_ids of its configs; missing blobs are skipped.
    func closure(of descriptor: Descriptor, blobs: inout Set<Digest>, diffIDs: inout Set<Digest>) {
        blobs.insert(descriptor.digest)
        guard let bytes = try? readBlob(descriptor.digest) else { return }
        if MediaType.isIndex(descriptor.mediaType) {
            guard let nested = try? CanonicalJSON.decode(Index.self, from: bytes, what: "index") else { return }
            for manifest in nested.manifests where hasBlob(manifest.digest) {
                closure(of: manifest, blobs: &blobs, diffIDs: &diffIDs)
            }
            return
        }
        guard let manifest = try? CanonicalJSON.decode(Manifest.self, from: bytes, what: "manifest") else { return }
        blobs.insert(manifest.config.digest)
        for layer in manifest.layers { blobs.insert(layer.digest) }
        if let configBytes = try? readBlob(manifest.config.digest),
           let config = try? CanonicalJSON.decode(ImageConfig.self, from: configBytes, what: "config") {
            diffIDs.formUnion(config.rootfs.diffIDs)
        }
    }

    /// The entries of index.json (tagged or not) that are `image`.
    func indexEntries(of image: Image, in index: Index) throws(SkiffError) -> [Descriptor] {
        var configOf: [Digest: Digest] = [:]
        var result: [Descriptor] = []
        for entry in index.manifests {
            if configOf[entry.digest] == nil {
                configOf[entry.digest] = (try? self.image(entry))?.configDigest
            }
            if configOf[entry.digest] == image.configDigest { result.append(entry) }
        }
        return result
    }

    // MARK: index.json under the lock

    /// Runs `body` holding the image store's lock (the one `tag` takes).
    /// Not reentrant: `body` must write index.json with `writeIndex`.
    func withIndexLock<T>(_ body: () throws(SkiffError) -> T) throws(SkiffError) -> T {
        try ensureLayout()
        let path = root.tmp + "/images.lock"
        let lock = try syscall("open \(path)") { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
        defer { close(lock) }
        try syscall("lock \(path)") { flock(lock, LOCK_EX) }
        return try body()
    }

    /// Writes index.json sorted as `tag` does; call under `withIndexLock`.
    func writeIndex(_ index: Index) throws(SkiffError) {
        var index = index
        index.manifests.sort { a, b in
            let (na, nb) = (Self.refName(of: a) ?? "", Self.refName(of: b) ?? "")
            return na != nb ? na < nb : a.digest < b.digest
        }
        try writeAtomically(indexPath, try CanonicalJSON.encode(index))
    }

    /// Adds an untagged entry for `descriptor` unless index.json has one
    /// for that manifest already (`load` of an image without a name).
    func addUntagged(_ descriptor: Descriptor) throws(SkiffError) {
        try withIndexLock { () throws(SkiffError) in
            var index = try readIndex()
            guard !index.manifests.contains(where: { $0.digest == descriptor.digest }) else { return }
            var entry = descriptor
            entry.annotations = nil
            index.manifests.append(entry)
            try writeIndex(index)
        }
    }
}

extension ImageStore {
    /// One layer of an image with the history entry that made it.
    public struct LayerDetail: Hashable, Sendable {
        public var digest: Digest
        public var diffID: Digest
        /// Content size (see `LayerContentSize`).
        public var size: Int64
        public var createdBy: String?
    }

    /// The image's layers, BOTTOM FIRST, each with its history line (the
    /// n-th history entry that is not an empty_layer made the n-th layer).
    public func layerDetails(of image: Image) -> [LayerDetail] {
        let made = history(of: image).reversed().filter { $0.entry.emptyLayer != true }
        return zip(image.manifest.layers, image.config.rootfs.diffIDs).enumerated().map { i, layer in
            LayerDetail(digest: layer.0.digest, diffID: layer.1,
                        size: i < made.count ? made[i].size : layerSize(image, i),
                        createdBy: i < made.count ? made[i].entry.createdBy : nil)
        }
    }

    private func layerSize(_ image: Image, _ index: Int) -> Int64 {
        contentSize(ofLayer: index, manifest: image.manifest, config: image.config)
    }

    /// One row of `docker history`.
    public struct HistoryRow: Hashable, Sendable {
        public var entry: ImageConfig.History
        /// Content size of the entry's layer (see `LayerContentSize`); 0 for
        /// an empty_layer entry.
        public var size: Int64
    }

    /// The config's history, NEWEST FIRST as `docker history` prints it; the
    /// n-th entry that is not an empty_layer is the n-th layer. An image
    /// without history gets one row per layer.
    public func history(of image: Image) -> [HistoryRow] {
        let layers = image.manifest.layers
        var rows: [HistoryRow] = []
        var next = 0
        for entry in image.config.history ?? [] {
            if entry.emptyLayer == true {
                rows.append(HistoryRow(entry: entry, size: 0))
            } else {
                let size = next < layers.count ? layerSize(image, next) : 0
                next += 1
                rows.append(HistoryRow(entry: entry, size: size))
            }
        }
        while next < layers.count {
            rows.append(HistoryRow(entry: .init(created: image.config.created), size: layerSize(image, next)))
            next += 1
        }
        return rows.reversed()
    }
}
