import Glibc
import SkiffCommon

public struct Change: Sendable, Equatable {
    public enum Kind: String, Sendable { case added = "A", changed = "C", deleted = "D" }
    public var kind: Kind
    public var path: String
}

extension Engine {
    /// `docker diff`: what the container's writable layer holds, compared
    /// with the image's layers. Overlay marks a deletion with a 0/0 char device.
    public func diff(_ reference: String) throws(SkiffError) -> [Change] {
        let c = try container(reference)
        var changes: [Change] = []
        func inLower(_ path: String) -> Bool {
            c.config.lowerDirs.contains { Files.exists($0 + path) }
        }
        func walk(_ relative: String) {
            for name in Files.list(c.upperDir + relative) {
                let path = relative + "/" + name
                var st = stat()
                guard lstat(c.upperDir + path, &st) == 0 else { continue }
                let type = st.st_mode & S_IFMT
                if type == S_IFCHR && st.st_rdev == 0 {
                    changes.append(Change(kind: .deleted, path: path))
                    continue
                }
                changes.append(Change(kind: inLower(path) ? .changed : .added, path: path))
                if type == S_IFDIR { walk(path) }
            }
        }
        walk("")
        return changes
    }
}
