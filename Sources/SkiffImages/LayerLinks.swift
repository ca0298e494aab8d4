import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Short names for the unpacked layers, as Docker's overlay2 keeps them in
/// its `l/` directory: `layers/l/NAME -> ../<diff_id hex>`.
///
/// overlayfs takes all its lower dirs in one mount option string, and the
/// kernel copies mount options into a single page (4096 bytes here). With
/// absolute paths (`/var/lib/skiff/layers/` + 64 hex digits, about 90
/// bytes each) an image of some 45 layers no longer fits. The spawn helper
/// therefore changes into `layers/l` and passes `NAME:NAME:…`: 27 bytes a
/// layer, room for about 150 layers (overlayfs itself stacks at most 500).
///
/// A NAME is the diff_id itself written in base32 (A–Z, 2–7) and cut to
/// 26 characters (130 bits): every process finds the same name for a layer
/// without keeping a table, and two layers never share one in practice.
public enum LayerLinks {
    public static let nameLength = 26

    /// The link name of the layer whose diff_id has the hex digits `hex`.
    public static func name(forLayerHex hex: String) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
        var bytes: [UInt8] = []
        var digits = Array(hex.utf8).makeIterator()
        while let hi = digits.next(), let lo = digits.next() {
            bytes.append(nibble(hi) << 4 | nibble(lo))
        }
        var out: [UInt8] = []
        var buffer = 0, bits = 0
        for byte in bytes where out.count < nameLength {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 && out.count < nameLength {
                bits -= 5
                out.append(alphabet[(buffer >> bits) & 31])
            }
            buffer &= (1 << bits) - 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func nibble(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return 0
        }
    }

    /// Makes `root.layerLinks/NAME -> ../HEX` for the unpacked layer
    /// `directory` (a `root.layers/HEX` path) unless it is there already,
    /// and returns NAME. Safe when several processes do it at once.
    @discardableResult
    public static func ensure(root: StateRoot, layerDirectory directory: String) throws(SkiffError) -> String {
        let hex = String(directory.split(separator: "/").last ?? "")
        let name = name(forLayerHex: hex)
        let link = root.layerLinks + "/" + name
        let target = "../" + hex
        if readLink(link) == target { return name }
        try Files.makeDirectories(root.layerLinks)
        if symlink(target, link) != 0 {
            let code = errno
            guard code == EEXIST else { throw SkiffError.system("link \(link) to \(target)", errno: code) }
            if readLink(link) != target {
                // A stale link (left by a crash mid-way): replace it atomically.
                let temp = link + ".new-\(getpid())"
                unlink(temp)
                try syscall("link \(temp) to \(target)") { symlink(target, temp) }
                try syscall("rename \(temp) to \(link)") { rename(temp, link) }
            }
        }
        return name
    }

    /// Removes the link of the layer with hex digits `hex`, if any.
    public static func remove(root: StateRoot, layerHex hex: String) {
        unlink(root.layerLinks + "/" + name(forLayerHex: hex))
    }

    /// The names in `root.layerLinks` whose layer directory is gone.
    public static func dangling(root: StateRoot) -> [String] {
        Files.list(root.layerLinks).filter { name in
            guard let target = readLink(root.layerLinks + "/" + name) else { return false }
            return !Files.isDirectory(root.layerLinks + "/" + target)
        }
    }

    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
