import CShim
import Glibc
import SkiffCommon

/// A lesson's files directory: where its starter files (`files:` in the
/// lesson) are written for the learner to build from and edit with any
/// editor, and where the tutor's `write PATH TEXT` writes. One directory per
/// learner and lesson (`<progress dir>/files/<lesson id>`, `{{files}}` in
/// the lesson). Paths are relative and checked; every write goes through
/// openat2(RESOLVE_IN_ROOT) under the directory, so neither a hostile lesson
/// file nor a symlink put in the directory can lead a write outside it.
public enum LessonFiles {
    /// Why `path` cannot name a file of the directory, or nil.
    public static func problem(_ path: String) -> String? {
        if path.isEmpty { return "the path is empty" }
        if path.hasPrefix("/") { return "'\(path)' is absolute; give a path relative to the lesson's files directory" }
        if path.utf8.count > 1024 || path.utf8.contains(0) { return "'\(path)' is not a usable file name" }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.contains("..") { return "'\(path)' contains '..': files stay inside the lesson's files directory" }
        if parts.contains(where: { $0.isEmpty || $0 == "." }) { return "'\(path)' has an empty or '.' part" }
        return nil
    }

    /// Writes `text` to `path` inside `directory` (made if missing, and its
    /// missing parents, owned by `owner` when given). Returns false when the
    /// file was there and `overwrite` is false. A failed write leaves no file.
    @discardableResult
    public static func write(_ text: String, to path: String, in directory: String,
                             owner: (uid: uid_t, gid: gid_t)?, overwrite: Bool = true) throws(SkiffError) -> Bool {
        if let problem = problem(path) { throw SkiffError(.usage, problem) }
        try ProgressStore(directory: directory, owner: owner).ensureDirectory()
        let root = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard root >= 0 else { throw SkiffError.system("open \(directory)") }
        defer { close(root) }
        var parentFD = dup(root)
        var name = path
        if let slash = path.lastIndex(of: "/") {
            let parent = String(path[..<slash])
            name = String(path[path.index(after: slash)...])
            close(parentFD)
            guard skiff_mkdir_in_root(root, parent, 0o755) == 0 else { throw SkiffError.system("create \(directory)/\(parent)") }
            if let owner {
                // Each directory made for the learner is theirs, as the files are.
                var prefix = ""
                for part in parent.split(separator: "/") {
                    prefix += (prefix.isEmpty ? "" : "/") + part
                    let fd = skiff_open_in_root(root, prefix, O_RDONLY | O_DIRECTORY, 0)
                    if fd >= 0 { _ = fchown(fd, owner.uid, owner.gid); close(fd) }
                }
            }
            parentFD = skiff_open_in_root(root, parent, O_RDONLY | O_DIRECTORY, 0)
        }
        guard parentFD >= 0 else { throw SkiffError.system("open \(directory)/\(path)") }
        defer { close(parentFD) }
        var flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC
        flags |= overwrite ? O_TRUNC : O_EXCL
        let fd = openat(parentFD, name, flags, 0o644)
        if fd < 0 && !overwrite && errno == EEXIST { return false }
        guard fd >= 0 else { throw SkiffError.system("write \(directory)/\(path)") }
        defer { close(fd) }
        do {
            try Files.writeAll(fd, Array(text.utf8), what: "\(directory)/\(path)")
        } catch {
            unlinkat(parentFD, name, 0)
            throw error
        }
        if let owner { _ = fchown(fd, owner.uid, owner.gid) }
        return true
    }

    /// The lesson's starter files, {{vars}} filled; existing files are kept
    /// unless `overwrite` (a learner's edits survive leaving and coming back).
    /// Returns the paths written.
    public static func writeStarters(_ lesson: Lesson, values: [String: String], in directory: String,
                                     owner: (uid: uid_t, gid: gid_t)?, overwrite: Bool) throws(SkiffError) -> [String] {
        var written: [String] = []
        for file in lesson.files {
            if try write(Template.fill(file.text, values), to: file.path, in: directory, owner: owner, overwrite: overwrite) {
                written.append(file.path)
            }
        }
        return written
    }
}
