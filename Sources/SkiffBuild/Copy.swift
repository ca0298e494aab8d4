import SkiffCommon
import SkiffImages

#if canImport(Glibc)
import Glibc
#endif

/// One file, directory or symlink a COPY source selected.
struct CopyItem: Sendable {
    /// Below the source: [] for the source itself.
    var relative: [String]
    var info: FileInfo
    var contents: [UInt8]
}

/// One source path of COPY or ADD after globbing and symlink resolution.
struct CopySource: Sendable {
    /// Where it is in its tree.
    var path: [String]
    var isDirectory: Bool
    var items: [CopyItem]

    var name: String { path.last ?? "" }
}

enum CopySelection {
    /// The sources `patterns` name in `tree`: paths, globs (`*`, `?`, `[…]`
    /// per component), directories with everything below them.
    static func select(_ patterns: [String], in tree: any SourceTree, instruction: String) throws(SkiffError) -> [CopySource] {
        var sources: [CopySource] = []
        for pattern in patterns {
            if tree.refusesEscapes && ContextPath.escapes(pattern.hasPrefix("/") ? String(pattern.dropFirst()) : pattern) {
                throw SkiffError(.invalidData, "\(instruction) failed: forbidden path outside the build context: \(pattern)")
            }
            let components = ContextPath.clean(pattern)
            var paths: [[String]] = []
            if pattern.contains(where: { "*?[".contains($0) }) {
                var candidates: [[String]] = [[]]
                for part in components {
                    var next: [[String]] = []
                    for candidate in candidates {
                        let dir = try tree.resolve(candidate, followLast: true, shown: pattern)
                        guard tree.info(dir)?.kind == .directory else { continue }
                        for name in tree.list(dir) where DockerIgnore.glob(part, name) {
                            next.append(candidate + [name])
                        }
                    }
                    candidates = next
                }
                paths = candidates.filter { tree.info($0) != nil }
                if paths.isEmpty {
                    throw SkiffError(.notFound, "\(instruction) failed: no source files were specified: nothing in \(tree.label) matches \(pattern)")
                }
            } else {
                paths = [components]
            }
            for path in paths {
                let resolved = try tree.resolve(path, followLast: true, shown: pattern)
                guard let info = tree.info(resolved) else {
                    throw notFound(instruction, pattern, in: tree)
                }
                switch info.kind {
                case .directory:
                    let below = try walk(resolved, [], in: tree)
                    if let context = tree as? ContextTree, context.isExcluded(resolved), below.isEmpty {
                        throw notFound(instruction, pattern, in: tree)
                    }
                    sources.append(CopySource(path: resolved, isDirectory: true,
                                              items: [CopyItem(relative: [], info: info, contents: [])] + below))
                case .file:
                    let contents = try tree.read(resolved)
                    sources.append(CopySource(path: path, isDirectory: false,
                                              items: [CopyItem(relative: [], info: info, contents: contents)]))
                default:
                    throw SkiffError(.invalidData, "\(instruction) failed: \(pattern) is neither a file nor a directory")
                }
            }
        }
        return sources
    }

    private static func notFound(_ instruction: String, _ pattern: String, in tree: any SourceTree) -> SkiffError {
        SkiffError(.notFound, "\(instruction) failed: file not found in \(tree.label) or excluded by .dockerignore: \(pattern)")
    }

    private static func walk(_ dir: [String], _ relative: [String], in tree: any SourceTree) throws(SkiffError) -> [CopyItem] {
        var items: [CopyItem] = []
        for name in tree.list(dir) {
            let path = dir + [name]
            guard let info = tree.info(path) else { continue }  // excluded, or gone
            switch info.kind {
            case .directory:
                let below = try walk(path, relative + [name], in: tree)
                if let context = tree as? ContextTree, context.isExcluded(path), below.isEmpty { continue }
                items.append(CopyItem(relative: relative + [name], info: info, contents: []))
                items += below
            case .file:
                items.append(CopyItem(relative: relative + [name], info: info, contents: try tree.read(path)))
            case .symlink:
                // Kept as a symlink, but it must not point out of the context.
                _ = try tree.resolve(path, followLast: true, shown: path.joined(separator: "/"))
                items.append(CopyItem(relative: relative + [name], info: info, contents: []))
            case .other:
                continue  // fifos, sockets, devices: not copied
            }
        }
        return items
    }

    /// What the cache compares: every selected name, type, mode, link
    /// target and content (owners and times are not).
    static func digest(_ sources: [CopySource]) -> Digest {
        var hasher = Digest.Hasher256()
        for source in sources {
            hasher.update(Array("source \(source.name) \(source.isDirectory)\n".utf8))
            for item in source.items {
                let kind: String
                switch item.info.kind {
                case .file: kind = "f " + Digest.of(item.contents).hex
                case .directory: kind = "d"
                case .symlink: kind = "l " + (item.info.linkTarget ?? "")
                case .other: kind = "o"
                }
                hasher.update(Array("\(item.relative.joined(separator: "/")) \(String(item.info.mode, radix: 8)) \(kind)\n".utf8))
            }
        }
        return hasher.finalize()
    }
}

/// Owner and mode that `--chown` and `--chmod` give the copied files.
struct CopyOwnership: Sendable {
    var uid: UInt32 = 0
    var gid: UInt32 = 0
    var mode: UInt32? = nil

    /// `--chown=user[:group]` with names looked up in the image's
    /// /etc/passwd and /etc/group, or numbers.
    static func parse(chown: String?, chmod: String?, image: ImageTree?) throws(SkiffError) -> CopyOwnership {
        var result = CopyOwnership()
        if let chmod {
            guard let mode = UInt32(chmod, radix: 8), mode <= 0o7777 else {
                throw SkiffError(.invalidData, "invalid --chmod=\(chmod): give octal permissions such as 755")
            }
            result.mode = mode
        }
        guard let chown, !chown.isEmpty else { return result }
        let parts = chown.split(separator: ":", maxSplits: 1).map(String.init)
        result.uid = try id(parts[0], file: "etc/passwd", image: image, what: "user")
        if parts.count == 2 {
            result.gid = try id(parts[1], file: "etc/group", image: image, what: "group")
        } else if let number = UInt32(parts[0]) {
            result.gid = number
        } else {
            // A user's name alone: its primary group from passwd.
            result.gid = try primaryGroup(parts[0], image: image)
        }
        return result
    }

    private static func lines(_ file: String, image: ImageTree?) -> [[String]] {
        guard let image, let path = try? image.resolve(file.split(separator: "/").map(String.init), followLast: true, shown: file),
              let bytes = try? image.read(path) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n")
            .map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
    }

    private static func id(_ text: String, file: String, image: ImageTree?, what: String) throws(SkiffError) -> UInt32 {
        if let number = UInt32(text) { return number }
        for fields in lines(file, image: image) where fields.count >= 3 && fields[0] == text {
            if let number = UInt32(fields[2]) { return number }
        }
        throw SkiffError(.notFound, "unable to find \(what) \(text): no matching entries in the image's /\(file)")
    }

    private static func primaryGroup(_ user: String, image: ImageTree?) throws(SkiffError) -> UInt32 {
        for fields in lines("etc/passwd", image: image) where fields.count >= 4 && fields[0] == user {
            if let number = UInt32(fields[3]) { return number }
        }
        throw SkiffError(.notFound, "unable to find user \(user): no matching entries in the image's /etc/passwd")
    }
}
