import Crypto
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// A content digest as the OCI image spec writes it: `algorithm:encoded`.
/// Skiff stores and verifies sha256 only, the algorithm every registry uses.
public struct Digest: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// Always "sha256".
    public let algorithm: String
    /// 64 lowercase hex characters.
    public let hex: String

    /// Parses "sha256:<64 lowercase hex>"; anything else is rejected, which
    /// also keeps a digest from ever naming a path outside blobs/sha256/.
    public init(parsing string: String) throws(SkiffError) {
        guard string.hasPrefix("sha256:") else {
            throw SkiffError(.invalidData, "invalid digest \(string): Skiff supports sha256:<64 hex digits> only")
        }
        let hex = String(string.dropFirst("sha256:".count))
        guard Digest.isSHA256Hex(hex) else {
            throw SkiffError(.invalidData, "invalid digest \(string): expected sha256:<64 lowercase hex digits>")
        }
        self.algorithm = "sha256"
        self.hex = hex
    }

    /// From 64 lowercase hex characters.
    public init(sha256Hex hex: String) throws(SkiffError) {
        try self.init(parsing: "sha256:" + hex)
    }

    private init(verifiedHex hex: String) {
        self.algorithm = "sha256"
        self.hex = hex
    }

    /// The sha256 digest of `bytes`.
    public static func of(_ bytes: [UInt8]) -> Digest {
        var hasher = Hasher256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    public var description: String { algorithm + ":" + hex }

    /// The first 12 hex digits, as Docker shows image IDs.
    public var short: String { String(hex.prefix(12)) }

    public static func < (a: Digest, b: Digest) -> Bool { a.description < b.description }

    static func isSHA256Hex(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    static func isHexPrefix(_ s: Substring) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// Streaming sha256, for blobs and layers too big to hold twice.
    public struct Hasher256 {
        private var state = SHA256()
        public private(set) var count: Int64 = 0

        public init() {}

        public mutating func update(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { update($0) }
        }

        public mutating func update(_ buffer: UnsafeRawBufferPointer) {
            state.update(bufferPointer: buffer)
            count += Int64(buffer.count)
        }

        public func finalize() -> Digest {
            let digest = state.finalize()
            var hex = ""
            hex.reserveCapacity(64)
            let digits: [Character] = Array("0123456789abcdef")
            for byte in digest {
                hex.append(digits[Int(byte >> 4)])
                hex.append(digits[Int(byte & 0x0f)])
            }
            return Digest(verifiedHex: hex)
        }
    }

    /// sha256 and size of a file, read in 1 MiB chunks.
    public static func ofFile(_ path: String) throws(SkiffError) -> (digest: Digest, size: Int64) {
        let fd = try syscall("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var hasher = Hasher256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SkiffError.system("read \(path)")
            }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return (hasher.finalize(), hasher.count)
    }
}

extension Digest: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let string = try container.decode(String.self)
        do {
            try self.init(parsing: string)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
