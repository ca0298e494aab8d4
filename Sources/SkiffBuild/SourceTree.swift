import CShim
import SkiffCommon
import SkiffImages

#if canImport(Glibc)
import Glibc
#endif

/// What `lstat` says about one path of a tree, never following a symlink.
struct FileInfo: Sendable {
    enum Kind: Sendable { case file, directory, symlink, other }
    var kind: Kind
    var mode: UInt32
    var uid: UInt32
    var gid: UInt32
    var mtime: Int64
    var linkTarget: String?

    init(_ st: stat, linkTarget: String?) {
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        mode = UInt32(st.st_mode & 0o7777)
        uid = UInt32(st.st_uid)
        gid = UInt32(st.st_gid)
        mtime = Int64(st.st_mtim.tv_sec)
        self.linkTarget = linkTarget
    }
}

/// A file tree COPY reads from (the build context, or a stage's image) and
/// that the builder looks into (does the destination exist in the image?).
/// Paths are component lists relative to the tree's root.
protocol SourceTree {
    /// How errors name the tree: "the build context", "stage builder".
    var label: String { get }
    /// The context refuses symlinks and `..` that lead out of it; an image
    /// resolves them inside its root, as the kernel's RESOLVE_IN_ROOT does.
    var refusesEscapes: Bool { get }
    func info(_ path: [String]) -> FileInfo?
    func list(_ path: [String]) -> [String]
    func read(_ path: [String]) throws(SkiffError) -> [UInt8]
    /// An absolute symlink target as a path of this tree; nil when it
    /// leads outside (the context's case).
    func absoluteTarget(_ target: String) -> [String]?
}

extension SourceTree {
    /// `path` with every symlink resolved inside the tree (the last one
    /// only with `followLast`). Missing components are kept as they are.
    func resolve(_ path: [String], followLast: Bool, shown: String) throws(SkiffError) -> [String] {
        var resolved: [String] = []
        var pending = ArraySlice(path)
        var hops = 0
        func escape(_ why: String) -> SkiffError {
            SkiffError(.invalidData, "forbidden path outside \(label): \(shown) (\(why))")
        }
        while let name = pending.first {
            pending = pending.dropFirst()
            if name == "." || name.isEmpty { continue }
            if name == ".." {
                if resolved.isEmpty {
                    if refusesEscapes { throw escape("it climbs above the root with ..") }
                } else {
                    resolved.removeLast()
                }
                continue
            }
            let candidate = resolved + [name]
            guard let info = info(candidate), info.kind == .symlink, let target = info.linkTarget,
                  !pending.isEmpty || followLast else {
                resolved = candidate
                continue
            }
            hops += 1
            guard hops <= 40 else {
                throw SkiffError(.invalidData, "too many levels of symbolic links in \(shown) in \(label)")
            }
            if target.hasPrefix("/") {
                guard let inside = absoluteTarget(target) else {
                    throw escape("\(candidate.joined(separator: "/")) is a symlink to \(target)")
                }
                resolved = []
                pending = ArraySlice(inside + pending)
            } else {
                // Relative to the link's directory; a `..` above the root is caught above.
                let parts = target.split(separator: "/").map(String.init)
                if refusesEscapes && ContextPath.escapes(resolved.joined(separator: "/") + "/" + target) {
                    throw escape("\(candidate.joined(separator: "/")) is a symlink to \(target)")
                }
                pending = ArraySlice(parts + pending)
            }
        }
        return resolved
    }

    /// Inside an image, "/" is the image's root.
    func absoluteTarget(_ target: String) -> [String]? {
        target.split(separator: "/").map(String.init)
    }
}

/// The build context: a host directory, less what .dockerignore excludes.
/// Files are opened with openat2(RESOLVE_IN_ROOT) under the context, so a
/// symlink swapped in during the build cannot lead a read out of it.
final class ContextTree: SourceTree {
    let root: String
    let ignore: DockerIgnore
    let rootFD: Int32
    var label: String { "the build context" }
    var refusesEscapes: Bool { true }

    init(root: String, ignore: DockerIgnore) throws(SkiffError) {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard realpath(root, &buffer) != nil else { throw SkiffError.system("open the build context \(root)") }
        self.root = String(cString: buffer)
        self.ignore = ignore
        rootFD = open(self.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else { throw SkiffError.system("open the build context \(root)") }
    }

    deinit { close(rootFD) }

    func host(_ path: [String]) -> String {
        path.isEmpty ? root : root + "/" + path.joined(separator: "/")
    }

    func isExcluded(_ path: [String]) -> Bool {
        !path.isEmpty && ignore.excludes(path.joined(separator: "/"))
    }

    func info(_ path: [String]) -> FileInfo? {
        var st = stat()
        guard lstat(host(path), &st) == 0 else { return nil }
        let info = FileInfo(st, linkTarget: (st.st_mode & S_IFMT) == S_IFLNK ? readLink(host(path)) : nil)
        // Excluded directories stay visible: a `!` line may bring back files below.
        if info.kind != .directory && isExcluded(path) { return nil }
        return info
    }

    func list(_ path: [String]) -> [String] {
        Files.list(host(path)).sorted()
    }

    func read(_ path: [String]) throws(SkiffError) -> [UInt8] {
        let relative = path.joined(separator: "/")
        let fd = skiff_open_in_root(rootFD, relative, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0)
        guard fd >= 0 else { throw SkiffError.system("open \(relative) in the build context") }
        defer { close(fd) }
        return try readAll(fd, what: relative)
    }

    func absoluteTarget(_ target: String) -> [String]? {
        let clean = "/" + ContextPath.clean(target).joined(separator: "/")
        if clean == root { return [] }
        guard clean.hasPrefix(root + "/") else { return nil }
        return ContextPath.clean(String(clean.dropFirst(root.count)))
    }
}

/// An image's files as a container would see them: its unpacked layers
/// stacked as overlayfs stacks them (whiteouts hide, opaque dirs cut off
/// the layers below), read without mounting anything.
struct ImageTree: SourceTree {
    /// Top layer first.
    let layers: [String]
    let label: String
    var refusesEscapes: Bool { false }

    init(layersBottomFirst: [String], label: String) {
        layers = layersBottomFirst.reversed()
        self.label = label
    }

    private func lstatIn(_ layer: String, _ path: [String]) -> stat? {
        var st = stat()
        // The layer's own directory may be reached through a short link.
        if path.isEmpty { return stat(layer, &st) == 0 ? st : nil }
        return lstat(layer + "/" + path.joined(separator: "/"), &st) == 0 ? st : nil
    }

    private func isWhiteout(_ st: stat) -> Bool { (st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == 0 }

    /// The top layer that has `path`, or nil when no layer does or one hides it.
    private func layerHaving(_ path: [String]) -> (layer: String, st: stat)? {
        for layer in layers {
            if let st = lstatIn(layer, path) {
                return isWhiteout(st) ? nil : (layer, st)
            }
            // Does this layer hide the lower ones at a parent directory?
            for length in stride(from: path.count - 1, through: 0, by: -1) {
                guard let parent = lstatIn(layer, Array(path[..<length])) else { continue }
                if isWhiteout(parent) || (parent.st_mode & S_IFMT) != S_IFDIR { return nil }
                if length > 0 && Whiteout.isOpaque(layer + "/" + path[..<length].joined(separator: "/")) { return nil }
            }
        }
        return nil
    }

    func info(_ path: [String]) -> FileInfo? {
        guard let (layer, st) = layerHaving(path) else { return nil }
        let full = layer + "/" + path.joined(separator: "/")
        return FileInfo(st, linkTarget: (st.st_mode & S_IFMT) == S_IFLNK ? readLink(full) : nil)
    }

    func list(_ path: [String]) -> [String] {
        var seen: Set<String> = []
        var names: [String] = []
        for layer in layers {
            guard let st = lstatIn(layer, path) else { continue }
            if isWhiteout(st) || (st.st_mode & S_IFMT) != S_IFDIR { break }
            let dir = path.isEmpty ? layer : layer + "/" + path.joined(separator: "/")
            for name in Files.list(dir) where !seen.contains(name) {
                seen.insert(name)
                if !Whiteout.isOverlayWhiteout(dir + "/" + name) { names.append(name) }
            }
            if !path.isEmpty && Whiteout.isOpaque(dir) { break }
        }
        return names.sorted()
    }

    func read(_ path: [String]) throws(SkiffError) -> [UInt8] {
        guard let (layer, _) = layerHaving(path) else {
            throw SkiffError(.notFound, "\(path.joined(separator: "/")) is not in \(label)")
        }
        let rootFD = open(layer, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else { throw SkiffError.system("open layer \(layer)") }
        defer { close(rootFD) }
        let relative = path.joined(separator: "/")
        let fd = skiff_open_in_root(rootFD, relative, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0)
        guard fd >= 0 else { throw SkiffError.system("open \(relative) in \(label)") }
        defer { close(fd) }
        return try readAll(fd, what: relative)
    }
}

func readLink(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink(path, &buffer, buffer.count - 1)
    guard n >= 0 else { return nil }
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func readAll(_ fd: Int32, what: String) throws(SkiffError) -> [UInt8] {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
        if n < 0 {
            if errno == EINTR { continue }
            throw SkiffError.system("read \(what)")
        }
        if n == 0 { return bytes }
        bytes += chunk[0..<n]
    }
}
