import SkiffCommon

/// A Docker-style image reference: `[domain/]path[:tag][@digest]`.
///
///     busybox                          docker.io/library/busybox:latest
///     busybox:1.36                     docker.io/library/busybox:1.36
///     library/busybox                  docker.io/library/busybox:latest
///     localhost:5000/x/y:tag           localhost:5000/x/y:tag
///     busybox@sha256:<64 hex>          docker.io/library/busybox@sha256:…
///
/// The grammar is the one of distribution/reference (what `docker` accepts).
/// A first path component is a registry domain when it contains "." or ":"
/// or is "localhost"; otherwise the image is on docker.io, and a one-part
/// path gets the "library/" prefix.
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    public static let defaultDomain = "docker.io"
    public static let defaultTag = "latest"

    /// The registry: "docker.io", "localhost:5000".
    public let domain: String
    /// The path in the registry: "library/busybox", "x/y".
    public let path: String
    /// The tag: "latest" when the reference names neither a tag nor a digest.
    public let tag: String?
    public let digest: Digest?

    public init(parsing input: String) throws(SkiffError) {
        guard !input.isEmpty else { throw Self.invalid("an image name is empty") }
        guard input.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw Self.invalid("\"\(input)\" contains a space or a character that is not printable ASCII")
        }
        var rest = Substring(input)

        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            let text = String(rest[rest.index(after: at)...])
            rest = rest[..<at]
            do {
                digest = try Digest(parsing: text)
            } catch {
                throw Self.invalid("digest \"\(text)\" is not sha256:<64 lowercase hex digits>")
            }
        }

        var tag: String?
        let lastSlash = rest.lastIndex(of: "/")
        if let colon = rest.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            let text = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
            guard Self.isValidTag(text) else {
                throw Self.invalid("tag \"\(text)\" must be 1 to 128 letters, digits, _ . or -, and not start with . or -")
            }
            tag = text
        }
        guard !rest.isEmpty else { throw Self.invalid("\"\(input)\" has no repository name") }

        var domain = Self.defaultDomain
        var path = rest
        if let slash = rest.firstIndex(of: "/") {
            let first = rest[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" || first.lowercased() != first {
                domain = String(first)
                path = rest[rest.index(after: slash)...]
                guard Self.isValidDomain(domain) else {
                    throw Self.invalid("registry \"\(domain)\" is not a host name with an optional :port")
                }
            }
        }
        if domain == "index.docker.io" { domain = Self.defaultDomain }
        if domain == Self.defaultDomain && !path.contains("/") { path = "library/" + path }

        if path.contains(where: { $0.isUppercase }) {
            throw Self.invalid("repository name must be lowercase")
        }
        guard Self.isValidPath(path) else {
            throw Self.invalid("\"\(rest)\" is not a repository name: use lowercase letters, digits and the separators . _ __ - between them, and / between components")
        }
        if domain == Self.defaultDomain && path.hasPrefix("library/") && Digest.isSHA256Hex(String(path.dropFirst(8))) {
            throw Self.invalid("repository name cannot be 64 hexadecimal characters: that is an image ID")
        }
        guard domain.utf8.count + 1 + path.utf8.count <= 255 else {
            throw Self.invalid("repository name must not be more than 255 characters")
        }

        self.domain = domain
        self.path = String(path)
        self.digest = digest
        self.tag = tag ?? (digest == nil ? Self.defaultTag : nil)
    }

    /// The repository as Docker shows it: "busybox", "me/app", "localhost:5000/x/y".
    public var repository: String {
        if domain == Self.defaultDomain {
            if path.hasPrefix("library/") && path.dropFirst("library/".count).firstIndex(of: "/") == nil {
                return String(path.dropFirst("library/".count))
            }
            return path
        }
        return domain + "/" + path
    }

    /// "docker.io/library/busybox".
    public var fullRepository: String { domain + "/" + path }

    /// "busybox:latest", "localhost:5000/x:y", "busybox@sha256:…": what Skiff
    /// displays, and the tag it stores in index.json.
    public var familiarName: String { repository + suffix }

    /// "docker.io/library/busybox:latest".
    public var fullName: String { fullRepository + suffix }

    public var description: String { familiarName }

    /// The same repository with another tag (and no digest).
    public func withTag(_ tag: String) throws(SkiffError) -> ImageReference {
        try ImageReference(parsing: fullRepository + ":" + tag)
    }

    private var suffix: String {
        (tag.map { ":" + $0 } ?? "") + (digest.map { "@" + $0.description } ?? "")
    }

    private static func invalid(_ why: String) -> SkiffError {
        SkiffError(.usage, "invalid reference format: " + why)
    }

    // MARK: grammar

    private static func isAlnumLower(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)
    }

    private static func isAlnum(_ c: UInt8) -> Bool {
        isAlnumLower(c) || (c >= 0x41 && c <= 0x5a)
    }

    /// tag := [\w][\w.-]{0,127}
    static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard !bytes.isEmpty, bytes.count <= 128 else { return false }
        func word(_ c: UInt8) -> Bool { isAlnum(c) || c == 0x5f }
        return word(bytes[0]) && bytes.dropFirst().allSatisfy { word($0) || $0 == 0x2e || $0 == 0x2d }
    }

    /// path := component ("/" component)*; component := alnum (separator alnum)*;
    /// separator := [_.] | "__" | "-"+
    static func isValidPath(_ path: Substring) -> Bool {
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        return !components.isEmpty && components.allSatisfy { isValidComponent(Array($0.utf8)) }
    }

    private static func isValidComponent(_ c: [UInt8]) -> Bool {
        guard let first = c.first, let last = c.last, isAlnumLower(first), isAlnumLower(last) else { return false }
        var i = 0
        while i < c.count {
            if isAlnumLower(c[i]) { i += 1; continue }
            // A run of separators between two alphanumerics.
            var j = i
            while j < c.count && !isAlnumLower(c[j]) { j += 1 }
            let run = c[i..<j]
            let ok = run.elementsEqual([0x2e]) || run.elementsEqual([0x5f]) || run.elementsEqual([0x5f, 0x5f])
                || run.allSatisfy { $0 == 0x2d }
            if !ok { return false }
            i = j
        }
        return true
    }

    /// domain := host [":" port]; host := component ("." component)*;
    /// component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
    static func isValidDomain(_ domain: String) -> Bool {
        var host = Substring(domain)
        if let colon = domain.firstIndex(of: ":") {
            let port = domain[domain.index(after: colon)...]
            guard !port.isEmpty, port.utf8.count <= 5, port.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                return false
            }
            host = domain[..<colon]
        }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return !parts.isEmpty && parts.allSatisfy { part in
            let b = Array(part.utf8)
            guard let first = b.first, let last = b.last, isAlnum(first), isAlnum(last) else { return false }
            return b.allSatisfy { isAlnum($0) || $0 == 0x2d }
        }
    }
}
