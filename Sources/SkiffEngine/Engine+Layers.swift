import SkiffCommon
import SkiffImages

/// A container's filesystem as overlayfs stacks it: what `show layers` and
/// `explain` print, shared by the CLI and the tutor.
public struct ContainerLayers: Sendable {
    public struct Lower: Sendable {
        /// 1 is the bottom layer (the image's first).
        public var position: Int
        /// The unpacked layer, `layers/<diff_id hex>`.
        public var directory: String
        /// Its short name in `layers/l`, as the mount options give it.
        public var link: String
        public var diffID: String
        /// The compressed blob's digest; nil when the image is gone.
        public var digest: Digest?
        /// Content size (regular files' bytes); nil when the image is gone.
        public var size: Int64?
        /// The history line that made the layer (a Dockerfile instruction,
        /// "skiff commit", …).
        public var createdBy: String?
    }

    /// Top first, as overlayfs's lowerdir lists them.
    public var lowers: [Lower]
    public var upperDir: String
    public var workDir: String
    public var mergedDir: String
    /// What the container changed, as `diff` lists it.
    public var changes: [Change]
}

extension Engine {
    public func layers(_ reference: String) throws(SkiffError) -> ContainerLayers {
        let c = try container(reference)
        var details: [Digest: ImageStore.LayerDetail] = [:]
        if let image = try? images.resolve(c.config.imageID) {
            for detail in images.layerDetails(of: image) { details[detail.diffID] = detail }
        }
        var lowers: [ContainerLayers.Lower] = []
        for (index, dir) in c.config.lowerDirs.enumerated().reversed() {
            let hex = String(dir.split(separator: "/").last ?? "")
            let detail = (try? Digest(sha256Hex: hex)).flatMap { details[$0] }
            lowers.append(.init(position: index + 1, directory: dir, link: LayerLinks.name(forLayerHex: hex),
                                diffID: "sha256:" + hex, digest: detail?.digest, size: detail?.size,
                                createdBy: detail?.createdBy))
        }
        return ContainerLayers(lowers: lowers, upperDir: c.upperDir, workDir: c.workDir, mergedDir: c.mergedDir,
                               changes: try diff(c.id))
    }
}
