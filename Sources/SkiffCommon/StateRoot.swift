#if canImport(Glibc)
import Glibc
#endif

/// Where Skiff keeps its state: `/var/lib/skiff`, or `SKIFF_ROOT` when set.
///
///     images/      OCI image layout (oci-layout, index.json, blobs/sha256/…)
///     layers/      one unpacked directory per layer digest, shared by images
///     containers/  one directory per container
///     names/       one file per container name, holding the container's ID
///     tmp/         staging for atomic writes and unpacking
///     seccomp/     compiled seccomp filters (a cache: safe to delete)
public struct StateRoot: Sendable, Equatable {
    public let path: String

    public init(path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// `SKIFF_ROOT` from the environment, else `/var/lib/skiff`.
    public static func fromEnvironment() -> StateRoot {
        if let value = getenv("SKIFF_ROOT"), value.pointee != 0 {
            return StateRoot(path: String(cString: value))
        }
        return StateRoot(path: "/var/lib/skiff")
    }

    public var images: String { path + "/images" }
    public var layers: String { path + "/layers" }
    public var containers: String { path + "/containers" }
    public var names: String { path + "/names" }
    public var tmp: String { path + "/tmp" }
    /// Compiled seccomp filters, by the hash of what they were compiled from.
    public var seccomp: String { path + "/seccomp" }

    public func container(_ id: String) -> String { containers + "/" + id }
    public func layer(digestHex: String) -> String { layers + "/" + digestHex }
}
