import FoundationEssentials

/// An image of the store: a manifest tagged in index.json, with its config.
public struct Image: Hashable, Sendable {
    /// The image ID as Docker shows it: "sha256:<hex of the config digest>".
    public var id: String { configDigest.description }
    /// The first 12 hex digits of the ID.
    public var shortID: String { configDigest.short }
    public var configDigest: Digest
    /// The tags in index.json that point to this manifest, familiar names
    /// ("busybox:latest"), sorted; empty for an untagged image.
    public var references: [String]
    public var manifestDigest: Digest
    public var manifest: Manifest
    public var config: ImageConfig
    /// `config.created` as a date; nil when absent or not RFC 3339.
    public var created: Date?
    /// Sum of the layer blobs' sizes (what a registry transfers).
    public var compressedSize: Int64

    public init(configDigest: Digest, references: [String], manifestDigest: Digest, manifest: Manifest,
                config: ImageConfig, created: Date?, compressedSize: Int64) {
        self.configDigest = configDigest
        self.references = references
        self.manifestDigest = manifestDigest
        self.manifest = manifest
        self.config = config
        self.created = created
        self.compressedSize = compressedSize
    }

    /// Parses an RFC 3339 date-time, with or without fractional seconds.
    public static func parseDate(_ text: String?) -> Date? {
        guard let text else { return nil }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            return date
        }
        return try? Date(text, strategy: Date.ISO8601FormatStyle())
    }
}
