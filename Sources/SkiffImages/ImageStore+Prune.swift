import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Garbage collection of the store, safe against concurrent writers.
///
/// The rule: whatever writes blobs or unpacks layers (`storeImage`, `load`,
/// `layerDirectories`, the engine's `create` up to saving the container)
/// holds `tmp/gc.lock` SHARED from its first write until the new image is
/// in index.json (or the container config names its layers); whatever
/// deletes blobs or layer directories (`prune`, `rmi`) holds it EXCLUSIVE.
/// So a collector never sees a half-stored image whose blobs nothing
/// references yet. Lock order: gc.lock before images.lock.
public final class StoreLock {
    private var fd: Int32

    init(fd: Int32) { self.fd = fd }

    public func release() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    deinit { release() }
}

/// What a container holds of the store: its image and its lower dirs.
public struct ImageUsage: Sendable {
    public var imageID: String
    public var lowerDirs: [String]

    public init(imageID: String, lowerDirs: [String]) {
        self.imageID = imageID
        self.lowerDirs = lowerDirs
    }
}

/// What `image prune` did.
public struct PruneReport: Sendable, Equatable {
    /// Docker's lines: "untagged: NAME", "deleted: sha256:ID".
    public var lines: [String] = []
    /// Bytes of the blobs and unpacked layer files removed.
    public var reclaimedBytes: Int64 = 0
    public init() {}
}

extension ImageStore {
    var gcLockPath: String { root.tmp + "/gc.lock" }

    /// Takes the collection lock, shared (writers) or exclusive (collectors);
    /// it is released by `release()` or when the returned value goes away.
    public func lockStore(exclusive: Bool) throws(SkiffError) -> StoreLock {
        try Files.makeDirectories(root.tmp)
        let path = gcLockPath
        let fd = try syscall("open \(path)") { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
        while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            let code = errno
            if code == EINTR { continue }
            close(fd)
            throw SkiffError.system("lock \(path)", errno: code)
        }
        return StoreLock(fd: fd)
    }

    func withStoreLock<T>(exclusive: Bool, _ body: () throws(SkiffError) -> T) throws(SkiffError) -> T {
        let lock = try lockStore(exclusive: exclusive)
        defer { lock.release() }
        return try body()
    }

    /// `docker image prune [-a]`: removes the untagged images (with `all`,
    /// every image) that no container uses, then every blob no image in
    /// index.json reaches and every unpacked layer neither an image nor a
    /// container needs, with their links. `containers` is asked once the
    /// lock is held, so no container made meanwhile is missed.
    public func prune(all: Bool, containers: () -> [ImageUsage]) throws(SkiffError) -> PruneReport {
        try withStoreLock(exclusive: true) { () throws(SkiffError) -> PruneReport in
            var report = PruneReport()
            let usage = containers()
            let usedIDs = Set(usage.map(\.imageID))
            let layersInUse = Set(usage.flatMap(\.lowerDirs))
            try withIndexLock { () throws(SkiffError) in
                var index = try readIndex()
                var removed: [Digest] = []
                for group in Self.group(index) {
                    guard let image = try? image(group.descriptor, references: group.names) else { continue }
                    guard all || group.names.isEmpty, !usedIDs.contains(image.id) else { continue }
                    removed.append(group.descriptor.digest)
                    report.lines += group.names.map { "untagged: " + $0 }
                    report.lines.append("deleted: " + image.configDigest.description)
                }
                guard !removed.isEmpty else { return }
                index.manifests.removeAll { removed.contains($0.digest) }
                try writeIndex(index)
            }
            report.reclaimedBytes = try collectUnreferenced(layersInUse: layersInUse)
            return report
        }
    }

    /// Deletes every blob that no entry of index.json reaches and every
    /// layer directory no image or container uses; returns the bytes freed.
    /// Call holding the collection lock exclusively.
    func collectUnreferenced(layersInUse: Set<String>) throws(SkiffError) -> Int64 {
        var (blobs, diffIDs) = (Set<Digest>(), Set<Digest>())
        for entry in try readIndex().manifests { closure(of: entry, blobs: &blobs, diffIDs: &diffIDs) }
        var freed: Int64 = 0
        for name in Files.list(blobsPath) {
            guard (try? Digest(sha256Hex: name)).map({ !blobs.contains($0) }) ?? true else { continue }
            let path = blobsPath + "/" + name
            freed += Self.treeBytes(path)
            if unlink(path) != 0 && errno != ENOENT { throw SkiffError.system("remove blob \(path)") }
        }
        // A summary goes with its manifest (see ImageSummary).
        for name in Files.list(summariesPath) where !((try? Digest(sha256Hex: name)).map(blobs.contains) ?? false) {
            unlink(summariesPath + "/" + name)
        }
        let keep = Set(diffIDs.map(\.hex)).union(layersInUse.map { String($0.split(separator: "/").last ?? "") })
        // A layer's HEX.size cache file goes with its layer.
        for name in Files.list(root.layers)
        where name != "l" && !keep.contains(String(name.prefix { $0 != "." })) {
            let path = root.layers + "/" + name
            freed += Self.treeBytes(path)
            LayerLinks.remove(root: root, layerHex: name)
            try LayerUnpacker.removeTreeForcibly(path)
        }
        for name in LayerLinks.dangling(root: root) { unlink(root.layerLinks + "/" + name) }
        return freed
    }

    /// The bytes of the regular files under `path` (or of the file itself),
    /// each inode once: busybox's hundreds of hard links are one file.
    static func treeBytes(_ path: String) -> Int64 {
        var seen = Set<[UInt64]>()
        return treeBytes(path, seen: &seen)
    }

    private static func treeBytes(_ path: String, seen: inout Set<[UInt64]>) -> Int64 {
        var st = stat()
        guard lstat(path, &st) == 0 else { return 0 }
        switch st.st_mode & S_IFMT {
        case S_IFREG:
            return seen.insert([UInt64(st.st_dev), UInt64(st.st_ino)]).inserted ? Int64(st.st_size) : 0
        case S_IFDIR:
            return Files.list(path).reduce(0) { $0 + treeBytes(path + "/" + $1, seen: &seen) }
        default:
            return 0
        }
    }
}
