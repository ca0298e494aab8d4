/// Media types of the OCI image spec 1.1 (and the Docker v2 schema 2 ones
/// Skiff accepts when reading images made elsewhere).
public enum MediaType {
    public static let imageLayout = "application/vnd.oci.layout.header.v1+json"
    public static let index = "application/vnd.oci.image.index.v1+json"
    public static let manifest = "application/vnd.oci.image.manifest.v1+json"
    public static let config = "application/vnd.oci.image.config.v1+json"
    public static let layer = "application/vnd.oci.image.layer.v1.tar"
    public static let layerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let layerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let emptyJSON = "application/vnd.oci.empty.v1+json"

    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"

    public static func isIndex(_ type: String?) -> Bool {
        type == index || type == dockerManifestList
    }

    public static func isManifest(_ type: String?) -> Bool {
        type == manifest || type == dockerManifest
    }

    /// Layer types Skiff can unpack: plain tar, gzip and zstd (libarchive
    /// detects the compression from the bytes).
    public static func isLayer(_ type: String) -> Bool {
        [layer, layerGzip, layerZstd, dockerLayerGzip,
         "application/vnd.oci.image.layer.nondistributable.v1.tar",
         "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
         "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"].contains(type)
    }
}

/// Annotation keys of the OCI image spec that Skiff reads or writes.
public enum AnnotationKey {
    /// In index.json: the name an image is tagged with. Skiff stores the
    /// familiar name ("busybox:latest").
    public static let refName = "org.opencontainers.image.ref.name"
    public static let created = "org.opencontainers.image.created"
}
