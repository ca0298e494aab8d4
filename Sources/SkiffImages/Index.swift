/// An OCI image index (image-spec `image-index.md`): index.json of an image
/// layout, or a multi-platform image.
public struct Index: Codable, Hashable, Sendable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var artifactType: String?
    public var manifests: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(schemaVersion: Int = 2, mediaType: String? = MediaType.index,
                artifactType: String? = nil, manifests: [Descriptor] = [],
                subject: Descriptor? = nil, annotations: [String: String]? = nil) {
        self.schemaVersion = schemaVersion
        self.mediaType = mediaType
        self.artifactType = artifactType
        self.manifests = manifests
        self.subject = subject
        self.annotations = annotations
    }
}

/// The `oci-layout` file at the root of an image layout.
public struct ImageLayout: Codable, Hashable, Sendable {
    public var imageLayoutVersion: String

    public init(imageLayoutVersion: String = "1.0.0") {
        self.imageLayoutVersion = imageLayoutVersion
    }
}
