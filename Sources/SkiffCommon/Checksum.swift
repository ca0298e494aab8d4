/// FNV-1a, 64 bits: a checksum for small cache files of our own (image
/// summaries, the seccomp memo) that notices damage without pulling in a
/// cryptographic hash. swift-crypto's first use in a process costs `run`
/// about 0.1 ms of conformance lookups; this is a loop. Not for anything
/// that must resist a forger: those files are only ever written by Skiff,
/// beside state an attacker with write access could change anyway.
public enum Checksum {
    public static func fnv1a64<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The checksum as 16 lowercase hex digits.
    public static func fnv1a64Hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let value = fnv1a64(bytes)
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(16)
        for shift in stride(from: 60, through: 0, by: -4) { out.append(digits[Int((value >> UInt64(shift)) & 0xF)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
