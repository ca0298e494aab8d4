import SkiffCommon

/// A layer's content size as Docker reports it in `history`, `images` and
/// friends: the sum of its regular files' sizes, each hard-linked file once.
/// A RUN that changed nothing is 0B, a COPY of a 40-byte file 40B (the tar
/// around them, headers and padding, is not counted).
///
/// Cached in a small file beside the unpacked layer (`layers/HEX.size`),
/// written at unpack time, so listing images reads one number per layer.
/// An unpacked layer without one is counted with `ImageStore.treeBytes`.
public enum LayerContentSize {
    /// The cache file of the layer unpacked at `layerDirectory`.
    public static func cachePath(layerDirectory: String) -> String { layerDirectory + ".size" }

    /// The cached size, if any.
    public static func cached(layerDirectory: String) -> Int64? {
        guard let text = try? Files.readString(cachePath(layerDirectory: layerDirectory)) else { return nil }
        return Int64(text.trimmed)
    }

    /// Records `size` for the layer; a cache, so failure only costs a recount.
    public static func remember(_ size: Int64, layerDirectory: String) {
        try? Files.writeAtomically(cachePath(layerDirectory: layerDirectory), "\(size)\n")
    }

    /// Sums the regular file entries of a layer tar (hard link entries carry
    /// no data of their own).
    public static func count(entries: [ArchiveEntry]) -> Int64 {
        entries.reduce(0) { total, entry in
            if case .regular = entry.kind { return total + entry.size }
            return total
        }
    }
}
