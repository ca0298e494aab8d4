import SkiffCommon
import SkiffImages

#if canImport(Glibc)
import Glibc
#endif

/// The build cache: `$SKIFF_ROOT/build-cache/<key>` holds the manifest
/// digest of the image a step made. The key is the sha256 of the parent
/// image's config digest, the step as history records it (after ARG and
/// ENV substitution), and what else decides the result: the build args a
/// RUN sees, the content digest of the files a COPY or ADD selected.
/// A record whose blobs are gone (rmi, prune) is a miss.
public struct BuildCache: Sendable {
    public let directory: String
    let store: ImageStore

    public init(store: ImageStore) {
        self.store = store
        directory = store.root.path + "/build-cache"
    }

    public static func key(parent: Digest?, step: String, extras: [String] = []) -> Digest {
        var text = "parent " + (parent?.description ?? "scratch") + "\nstep " + step + "\n"
        for extra in extras { text += "with " + extra + "\n" }
        return Digest.of(Array(text.utf8))
    }

    /// The image recorded for `key`, when all its blobs are still there.
    public func lookup(_ key: Digest) -> Image? {
        guard let text = (try? Files.readString(directory + "/" + key.hex)) ?? nil,
              let digest = try? Digest(parsing: text.trimmed) else { return nil }
        let descriptor = Descriptor(mediaType: MediaType.manifest, digest: digest, size: 0)
        guard let image = try? store.image(descriptor),
              image.manifest.layers.allSatisfy({ store.hasBlob($0.digest) }) else { return nil }
        return image
    }

    public func record(_ key: Digest, manifest: Digest) throws(SkiffError) {
        try Files.makeDirectories(directory)
        try Files.writeAtomically(directory + "/" + key.hex, manifest.description + "\n")
    }
}
