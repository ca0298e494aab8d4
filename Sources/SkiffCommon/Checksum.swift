/// FNV-1a, 64 bits: a checksum for small cache files of our own (image
/// summaries, the seccomp memo) that notices damage without pulling in a
/// cryptographic hash. swift-crypto's first use in a process costs `run`
/// about 0.1 ms of conformance lookups; this is a loop. Not for anything
/// that must resist a forger: those files are only ever written by Skiff,
/// beside state an attacker with write access could change anyway.
public enum Checksum {
    // Not generic: a generic function called from another module runs
    // unspecialized, with conformance lookups that cost more than the loop.
    public static func fnv1a64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The checksum as 16 lowercase hex digits.
    public static func fnv1a64Hex(_ bytes: ArraySlice<UInt8>) -> String {
        let value = bytes.withUnsafeBytes { fnv1a64($0) }
        let digits: StaticString = "0123456789abcdef"
        var out = [UInt8](repeating: 0, count: 16)
        for i in 0..<16 { out[i] = digits.utf8Start[Int((value >> UInt64(60 - 4 * i)) & 0xF)] }
        return String(decoding: out, as: UTF8.self)
    }

    public static func fnv1a64Hex(_ bytes: [UInt8]) -> String { fnv1a64Hex(bytes[...]) }
}
