#if canImport(Glibc)
import Glibc
#endif

/// Where Skiff keeps its state: `/var/lib/skiff` for root, a per-user
/// directory for anyone else (rootless mode), or `SKIFF_ROOT` when set.
///
///     images/      OCI image layout (oci-layout, index.json, blobs/sha256/…)
///     layers/      one unpacked directory per layer digest, shared by images;
///                  layers/l/ holds their short links for overlay's lowerdir
///     containers/  one directory per container
///     names/       one file per container name, holding the container's ID
///     tmp/         staging for atomic writes and unpacking
///     seccomp/     compiled seccomp filters (a cache: safe to delete)
public struct StateRoot: Sendable, Equatable {
    public let path: String

    public init(path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// `SKIFF_ROOT` from the environment, else `/var/lib/skiff` for root,
    /// else `$XDG_DATA_HOME/skiff` or `~/.local/share/skiff` (rootless).
    public static func fromEnvironment() -> StateRoot {
        if let value = nonEmptyEnv("SKIFF_ROOT") { return StateRoot(path: value) }
        if geteuid() == 0 { return StateRoot(path: "/var/lib/skiff") }
        if let data = nonEmptyEnv("XDG_DATA_HOME") { return StateRoot(path: data + "/skiff") }
        let home = nonEmptyEnv("HOME") ?? getpwuid(geteuid()).map { String(cString: $0.pointee.pw_dir) } ?? "/tmp"
        return StateRoot(path: home + "/.local/share/skiff")
    }

    private static func nonEmptyEnv(_ name: String) -> String? {
        guard let value = getenv(name), value.pointee != 0 else { return nil }
        return String(cString: value)
    }

    public var images: String { path + "/images" }
    public var layers: String { path + "/layers" }
    /// Short links to the unpacked layers (`l/NAME -> ../HEX`, see `LayerLinks`).
    public var layerLinks: String { path + "/layers/l" }
    public var containers: String { path + "/containers" }
    public var names: String { path + "/names" }
    public var tmp: String { path + "/tmp" }
    /// Compiled seccomp filters, by the hash of what they were compiled from.
    public var seccomp: String { path + "/seccomp" }

    /// Docker's "-init" layer, one for all containers (see Engine.initLayer).
    public var initLayer: String { path + "/init-layer" }

    public func container(_ id: String) -> String { containers + "/" + id }
    public func layer(digestHex: String) -> String { layers + "/" + digestHex }
}
