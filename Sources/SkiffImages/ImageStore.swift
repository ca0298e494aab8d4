import FoundationEssentials
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// The image store: an OCI image layout at `root.images`
///
///     oci-layout        {"imageLayoutVersion":"1.0.0"}
///     index.json        one manifest descriptor per tag, annotated with
///                       org.opencontainers.image.ref.name = "busybox:latest"
///     blobs/sha256/<hex>
///
/// and the unpacked layers at `root.layers/<diff_id hex>` (see
/// `layerDirectories(for:)`). Every write is atomic (a temporary file under
/// `root.tmp`, then rename); index.json is rewritten under a lock
/// (`root.tmp/images.lock`), so concurrent `tag` calls of several processes
/// do not lose each other's tags.
public struct ImageStore: Sendable {
    public let root: StateRoot

    public init(root: StateRoot) {
        self.root = root
    }

    public var layoutPath: String { root.images }
    public var indexPath: String { root.images + "/index.json" }
    public var blobsPath: String { root.images + "/blobs/sha256" }

    public func blobPath(_ digest: Digest) -> String {
        blobsPath + "/" + digest.hex
    }

    public func hasBlob(_ digest: Digest) -> Bool {
        Files.exists(blobPath(digest))
    }

    /// Creates the layout (oci-layout, an empty index.json, blobs/sha256)
    /// where it is missing.
    public func ensureLayout() throws(SkiffError) {
        try Files.makeDirectories(blobsPath)
        try Files.makeDirectories(root.tmp)
        let layoutFile = root.images + "/oci-layout"
        if !Files.exists(layoutFile) {
            try writeAtomically(layoutFile, try CanonicalJSON.encode(ImageLayout()))
        }
        if !Files.exists(indexPath) {
            try writeAtomically(indexPath, try CanonicalJSON.encode(Index()))
        }
    }

    // MARK: blobs

    /// Stores `bytes` as a blob and returns its descriptor. When `expected`
    /// is given the bytes must have that digest. The blob appears whole or
    /// not at all (temporary file, then rename).
    @discardableResult
    public func writeBlob(_ bytes: [UInt8], mediaType: String, expected: Digest? = nil) throws(SkiffError) -> Descriptor {
        let digest = Digest.of(bytes)
        if let expected, expected != digest {
            throw SkiffError(.invalidData, "blob \(expected) is corrupt: its content does not match its digest (it is \(digest))")
        }
        try ensureLayout()
        try writeAtomically(blobPath(digest), bytes)
        return Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
    }

    /// Moves the file at `path` (under `root.tmp`, its sha256 already
    /// checked to be `digest`) into the store as that blob; when the store
    /// has the blob already the file is left for its owner to remove.
    public func adoptBlob(_ path: String, digest: Digest) throws(SkiffError) {
        if hasBlob(digest) { return }
        try ensureLayout()
        try syscall("chmod \(path)") { chmod(path, 0o644) }
        try syscall("rename \(path) to \(blobPath(digest))") { rename(path, blobPath(digest)) }
    }

    /// Encodes `value` as canonical JSON and stores it as a blob.
    @discardableResult
    public func writeJSONBlob<T: Encodable>(_ value: T, mediaType: String) throws(SkiffError) -> Descriptor {
        try writeBlob(try CanonicalJSON.encode(value), mediaType: mediaType)
    }

    /// Assembles an image: stores the `adding` layer blobs, the config and a
    /// manifest whose layers are `baseLayers` (blobs already in the store)
    /// then the new ones, and tags it as `reference` (or, without one, adds
    /// it to index.json untagged). The config's diff_ids must match.
    @discardableResult
    public func storeImage(config: ImageConfig, baseLayers: [Descriptor] = [], adding layers: [LayerBlob],
                           tag reference: ImageReference?) throws(SkiffError) -> Image {
        let lock = try lockStore(exclusive: false)
        defer { lock.release() }
        let manifestDescriptor = try writeImageBlobs(config: config, baseLayers: baseLayers, adding: layers)
        guard let reference else {
            try addUntagged(manifestDescriptor)
            return try image(manifestDescriptor)
        }
        try tag(manifestDescriptor, as: reference)
        guard let image = try resolve(reference) else {
            throw SkiffError(.system, "image \(reference.familiarName) was written but cannot be found in \(layoutPath)")
        }
        return image
    }

    /// The blobs of an image (new layers, config, manifest) without an
    /// index.json entry: `build` keeps its step images this way, reachable
    /// through its cache. Returns the manifest's descriptor.
    public func writeImageBlobs(config: ImageConfig, baseLayers: [Descriptor] = [],
                                adding layers: [LayerBlob]) throws(SkiffError) -> Descriptor {
        // A streamed layer's file is adopted into the store or removed here.
        defer { for layer in layers { layer.discard() } }
        var descriptors = baseLayers
        for layer in layers {
            if let file = layer.file {
                try adoptBlob(file, digest: layer.digest)
                descriptors.append(Descriptor(mediaType: MediaType.layerGzip, digest: layer.digest, size: layer.size))
            } else {
                descriptors.append(try writeBlob(layer.bytes, mediaType: MediaType.layerGzip))
            }
        }
        guard descriptors.count == config.rootfs.diffIDs.count else {
            throw SkiffError(.invalidData, "cannot store an image of \(descriptors.count) layers with \(config.rootfs.diffIDs.count) diff_ids")
        }
        let configDescriptor = try writeJSONBlob(config, mediaType: MediaType.config)
        let manifest = Manifest(config: configDescriptor, layers: descriptors)
        return try writeJSONBlob(manifest, mediaType: MediaType.manifest)
    }

    /// The blob's bytes, after checking that their sha256 is `digest`.
    public func readBlob(_ digest: Digest) throws(SkiffError) -> [UInt8] {
        guard let bytes = try Files.read(blobPath(digest)) else {
            throw SkiffError(.notFound, "blob \(digest) is missing from the image store \(layoutPath)")
        }
        guard Digest.of(bytes) == digest else { throw corruptBlob(digest) }
        return bytes
    }

    /// Checks a blob's digest by streaming it (for layers); returns its path.
    @discardableResult
    public func verifyBlob(_ digest: Digest) throws(SkiffError) -> String {
        let path = blobPath(digest)
        guard Files.exists(path) else {
            throw SkiffError(.notFound, "blob \(digest) is missing from the image store \(layoutPath)")
        }
        guard try Digest.ofFile(path).digest == digest else { throw corruptBlob(digest) }
        return path
    }

    private func corruptBlob(_ digest: Digest) -> SkiffError {
        SkiffError(.invalidData, "blob \(digest) is corrupt: its content does not match its digest")
    }

    // MARK: index.json

    /// index.json; an empty index when the store has none yet.
    public func readIndex() throws(SkiffError) -> Index {
        guard let bytes = try Files.read(indexPath) else { return Index() }
        return try CanonicalJSON.decode(Index.self, from: bytes, what: indexPath)
    }

    /// Points `reference` at the manifest `descriptor` in index.json, moving
    /// the tag when another manifest had it. The descriptor's manifest blob
    /// must be in the store already.
    public func tag(_ descriptor: Descriptor, as reference: ImageReference) throws(SkiffError) {
        guard reference.tag != nil else {
            throw SkiffError(.usage, "cannot tag \(descriptor.digest) as \(reference.familiarName): a tag is needed, not a digest")
        }
        guard hasBlob(descriptor.digest) else {
            throw SkiffError(.notFound, "cannot tag \(reference.familiarName): manifest \(descriptor.digest) is not in the image store")
        }
        let name = reference.familiarName
        try updateIndex { (index: inout Index) throws(SkiffError) in
            index.manifests.removeAll { Self.refName(of: $0).map(Self.normalized) == name }
            var entry = descriptor
            var annotations = entry.annotations ?? [:]
            annotations[AnnotationKey.refName] = name
            entry.annotations = annotations
            index.manifests.append(entry)
        }
    }

    /// Removes the tag `reference` from index.json; false when it was not there.
    /// Blobs stay (there is no garbage collection yet).
    @discardableResult
    public func untag(_ reference: ImageReference) throws(SkiffError) -> Bool {
        let name = reference.familiarName
        var removed = false
        try updateIndex { (index: inout Index) throws(SkiffError) in
            let before = index.manifests.count
            index.manifests.removeAll { Self.refName(of: $0).map(Self.normalized) == name }
            removed = index.manifests.count != before
        }
        return removed
    }

    private func updateIndex(_ change: (inout Index) throws(SkiffError) -> Void) throws(SkiffError) {
        try ensureLayout()
        let lock = try syscall("open \(root.tmp)/images.lock") {
            open(root.tmp + "/images.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        }
        defer { close(lock) }
        try syscall("lock \(root.tmp)/images.lock") { flock(lock, LOCK_EX) }
        var index = try readIndex()
        try change(&index)
        // Sorted by name: the same tags always give the same index.json.
        index.manifests.sort { a, b in
            let (na, nb) = (Self.refName(of: a) ?? "", Self.refName(of: b) ?? "")
            return na != nb ? na < nb : a.digest < b.digest
        }
        try writeAtomically(indexPath, try CanonicalJSON.encode(index))
    }

    static func refName(of descriptor: Descriptor) -> String? {
        descriptor.annotations?[AnnotationKey.refName]
    }

    /// A ref.name as a familiar name; names Skiff cannot parse stay as they are.
    static func normalized(_ name: String) -> String {
        (try? ImageReference(parsing: name).familiarName) ?? name
    }

    // MARK: images

    /// The image a reference ("busybox", "busybox:latest",
    /// "busybox@sha256:<manifest digest>") or an image-ID prefix ("3f57",
    /// "sha256:3f57…") names; nil when none. A name is tried before an ID, as
    /// Docker does; an ambiguous ID prefix is a `.conflict`.
    public func resolve(_ nameOrID: String) throws(SkiffError) -> Image? {
        try lookup(nameOrID, index: try readIndex(), load: { (d, names) throws(SkiffError) in
            try image(d, references: names)
        }, configDigest: \.configDigest).value
    }

    /// The image `reference` names; nil when none.
    public func resolve(_ reference: ImageReference) throws(SkiffError) -> Image? {
        try lookup(reference, index: try readIndex(), load: { (d, names) throws(SkiffError) in
            try image(d, references: names)
        }).value
    }

    /// What a lookup found. `unknown`: `load` could not say (the quick path
    /// lacks a summary), so only the full path can answer.
    enum Lookup<T> {
        case found(T), none, unknown

        var value: T? {
            if case .found(let value) = self { return value }
            return nil
        }
    }

    /// The rules of `resolve(_:)` over any view of an image: `load` gives
    /// the image of an index.json entry (nil: cannot tell), `configDigest`
    /// its ID, so the full path (`Image`) and `run`'s quick path
    /// (`ImageSummary`) can never disagree on which image a name means.
    func lookup<T>(_ nameOrID: String, index: Index,
                   load: (Descriptor, [String]) throws(SkiffError) -> T?,
                   configDigest: (T) -> Digest) throws(SkiffError) -> Lookup<T> {
        let reference: ImageReference
        do throws(SkiffError) {
            reference = try ImageReference(parsing: nameOrID)
        } catch {
            let byID = try lookupID(nameOrID, index: index, load: load, configDigest: configDigest)
            if case .none = byID { throw error }
            return byID
        }
        let byName = try lookup(reference, index: index, load: load)
        if case .none = byName { return try lookupID(nameOrID, index: index, load: load, configDigest: configDigest) }
        return byName
    }

    private func lookup<T>(_ reference: ImageReference, index: Index,
                           load: (Descriptor, [String]) throws(SkiffError) -> T?) throws(SkiffError) -> Lookup<T> {
        let groups = Self.group(index)
        let match: (descriptor: Descriptor, names: [String])?
        if let digest = reference.digest {
            let repository = reference.repository
            match = groups.first { group in
                group.descriptor.digest == digest && group.names.contains {
                    (try? ImageReference(parsing: $0).repository) == repository
                }
            }
        } else {
            let name = reference.familiarName
            match = groups.first { $0.names.contains(name) }
        }
        guard let match else { return .none }
        return try load(match.descriptor, match.names).map { .found($0) } ?? .unknown
    }

    private func lookupID<T>(_ text: String, index: Index,
                             load: (Descriptor, [String]) throws(SkiffError) -> T?,
                             configDigest: (T) -> Digest) throws(SkiffError) -> Lookup<T> {
        let hex = text.hasPrefix("sha256:") ? text.dropFirst("sha256:".count) : Substring(text)
        guard Digest.isHexPrefix(hex) else { return .none }
        var found: [Digest: T] = [:]
        for group in Self.group(index) {
            guard let image = try load(group.descriptor, group.names) else { return .unknown }
            let digest = configDigest(image)
            if digest.hex.hasPrefix(hex) { found[digest] = found[digest] ?? image }
        }
        if found.count > 1 {
            throw SkiffError(.conflict, "image ID prefix \(text) is ambiguous: it matches \(found.count) images; give more digits")
        }
        return found.values.first.map { .found($0) } ?? .none
    }

    /// Every image of index.json, newest first; a manifest tagged several
    /// times is one image with several references.
    public func list() throws(SkiffError) -> [Image] {
        var images: [Image] = []
        for group in Self.group(try readIndex()) {
            images.append(try image(group.descriptor, references: group.names))
        }
        return images.sorted { a, b in
            let (ca, cb) = (a.created ?? .distantPast, b.created ?? .distantPast)
            if ca != cb { return ca > cb }
            return (a.references.first ?? a.id) < (b.references.first ?? b.id)
        }
    }

    /// index.json's entries grouped by manifest digest, with their names.
    static func group(_ index: Index) -> [(descriptor: Descriptor, names: [String])] {
        // Keyed by the hex string, not the Digest: a dictionary of our own
        // key type costs `run` a conformance lookup on first use.
        var position: [String: Int] = [:]
        var groups: [(descriptor: Descriptor, names: [String])] = []
        for entry in index.manifests {
            let at = position[entry.digest.hex] ?? {
                groups.append((entry, []))
                position[entry.digest.hex] = groups.count - 1
                return groups.count - 1
            }()
            if let name = refName(of: entry) {
                let name = normalized(name)
                if !groups[at].names.contains(name) { groups[at].names.append(name) }
            }
        }
        for i in groups.indices { groups[i].names.sort() }
        return groups
    }

    /// Loads the image of a manifest (or of an image index: the manifest for
    /// this machine's platform) with its config, verifying both blobs.
    public func image(_ descriptor: Descriptor, references: [String] = []) throws(SkiffError) -> Image {
        var manifestDescriptor = descriptor
        if MediaType.isIndex(descriptor.mediaType) {
            let nested = try CanonicalJSON.decode(Index.self, from: try readBlob(descriptor.digest),
                                                  what: "image index \(descriptor.digest)")
            manifestDescriptor = try Self.platformManifest(in: nested, digest: descriptor.digest)
        }
        let manifest = try CanonicalJSON.decode(Manifest.self, from: try readBlob(manifestDescriptor.digest),
                                                what: "manifest \(manifestDescriptor.digest)")
        let config = try CanonicalJSON.decode(ImageConfig.self, from: try readBlob(manifest.config.digest),
                                              what: "image config \(manifest.config.digest)")
        return Image(configDigest: manifest.config.digest, references: references,
                     manifestDigest: manifestDescriptor.digest, manifest: manifest, config: config,
                     created: Image.parseDate(config.created),
                     compressedSize: manifest.layers.reduce(0) { $0 + $1.size })
    }

    /// Content size of the image's layers in bytes, as `docker images` shows:
    /// the sum of each layer's regular files (see `LayerContentSize`).
    /// Counted only when asked: `run` resolves images without it.
    public func contentSize(of image: Image) -> Int64 {
        image.manifest.layers.indices.reduce(0) { $0 + contentSize(ofLayer: $1, manifest: image.manifest, config: image.config) }
    }

    private static func platformManifest(in index: Index, digest: Digest) throws(SkiffError) -> Descriptor {
        let arch = Platforms.hostArchitecture
        if let match = index.manifests.first(where: {
            MediaType.isManifest($0.mediaType) && $0.platform?.os == "linux" && $0.platform?.architecture == arch
        }) {
            return match
        }
        let manifests = index.manifests.filter { MediaType.isManifest($0.mediaType) }
        if manifests.count == 1, manifests[0].platform == nil { return manifests[0] }
        throw SkiffError(.notFound, "image index \(digest) has no manifest for linux/\(arch)")
    }

    /// The content size of the image's `index`-th layer (bottom first), as
    /// Docker counts it: see `LayerContentSize`. Read from the layer's cache
    /// file; else counted in its unpacked directory (and cached), else in
    /// its tar's entries.
    func contentSize(ofLayer index: Int, manifest: Manifest, config: ImageConfig) -> Int64 {
        let layer = manifest.layers[index]
        let diffIDs = config.rootfs.diffIDs
        guard index < diffIDs.count else { return tarContentSize(of: layer) ?? layer.size }
        let directory = root.layer(digestHex: diffIDs[index].hex)
        if let size = LayerContentSize.cached(layerDirectory: directory) { return size }
        // Only an unpacked layer gets a cache file: it goes when the layer goes.
        guard Files.isDirectory(directory) else { return tarContentSize(of: layer) ?? layer.size }
        let counted = Self.treeBytes(directory)
        LayerContentSize.remember(counted, layerDirectory: directory)
        return counted
    }

    private func tarContentSize(of layer: Descriptor) -> Int64? {
        guard MediaType.isLayer(layer.mediaType),
              let entries = try? ArchiveReader.entries(ofFile: blobPath(layer.digest)) else { return nil }
        return LayerContentSize.count(entries: entries)
    }

    // MARK: layers

    /// The unpacked directory of each layer of `image`, BOTTOM FIRST (the
    /// order of overlayfs's lowerdir is the reverse: top first). Layers are
    /// unpacked on first use into `root.layers/<diff_id hex>` and shared by
    /// every image that has them; see `LayerUnpacker.install`. Each gets its
    /// short link in `root.layerLinks` (see `LayerLinks`).
    public func layerDirectories(for image: Image) throws(SkiffError) -> [String] {
        let layers = image.manifest.layers
        let diffIDs = image.config.rootfs.diffIDs
        guard layers.count == diffIDs.count else {
            throw SkiffError(.invalidData, "image \(image.shortID) is inconsistent: its manifest has \(layers.count) layers but its config \(diffIDs.count) diff_ids")
        }
        let lock = try lockStore(exclusive: false)
        defer { lock.release() }
        var directories: [String] = []
        for (layer, diffID) in zip(layers, diffIDs) {
            let directory = root.layer(digestHex: diffID.hex)
            if !Files.isDirectory(directory) {
                guard MediaType.isLayer(layer.mediaType) else {
                    throw SkiffError(.unsupported, "layer \(layer.digest) has media type \(layer.mediaType), which Skiff cannot unpack")
                }
                let blob = try verifyBlob(layer.digest)
                try LayerUnpacker.install(archive: blob, diffID: diffID, at: directory, staging: root.tmp)
            }
            try LayerLinks.ensure(root: root, layerDirectory: directory)
            directories.append(directory)
        }
        return directories
    }

    // MARK: files

    /// Writes `bytes` to `path` through a uniquely named temporary file under
    /// `root.tmp` and rename: safe against other threads and processes
    /// writing the same path at the same time.
    func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(SkiffError) {
        try Files.makeDirectories(root.tmp)
        let (fd, temp) = try Files.makeTemporaryFile(prefix: root.tmp + "/write-")
        do throws(SkiffError) {
            defer { close(fd) }
            try syscall("chmod \(temp)") { fchmod(fd, 0o644) }
            try Files.writeAll(fd, bytes, what: temp)
        } catch {
            unlink(temp)
            throw error
        }
        if rename(temp, path) != 0 {
            let code = errno
            unlink(temp)
            throw SkiffError.system("rename \(temp) to \(path)", errno: code)
        }
    }
}

/// The platform names of the OCI spec (Go's GOARCH).
public enum Platforms {
    /// This machine's architecture: "amd64" for x86_64, "arm64" for aarch64, …
    public static var hostArchitecture: String {
        var u = utsname()
        uname(&u)
        let machine = withUnsafePointer(to: u.machine) {
            $0.withMemoryRebound(to: CChar.self, capacity: 65) { String(cString: $0) }
        }
        return architecture(uname: machine)
    }

    public static func architecture(uname machine: String) -> String {
        switch machine {
        case "x86_64", "amd64": return "amd64"
        case "aarch64", "arm64": return "arm64"
        case "i386", "i486", "i586", "i686": return "386"
        case "ppc64le": return "ppc64le"
        case "s390x": return "s390x"
        case "riscv64": return "riscv64"
        default: return machine.hasPrefix("arm") ? "arm" : machine
        }
    }
}
