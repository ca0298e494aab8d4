import FoundationEssentials
import Glibc
import SkiffCommon

/// containers/ID/ directories and names/NAME files: lookup by full ID, name
/// or unique prefix, the way Docker accepts them.
struct ContainerStore: Sendable {
    let root: StateRoot

    func load(id: String) throws(SkiffError) -> Container {
        let dir = root.container(id)
        guard let bytes = try Files.read(dir + "/config.json") else {
            throw SkiffError(.notFound, "No such container: \(id)")
        }
        let config: ContainerConfig
        do {
            config = try JSONCoding.decoder.decode(ContainerConfig.self, from: Data(bytes))
        } catch {
            throw SkiffError(.invalidData, "container \(id): config.json is unreadable (\(error)); remove it with skiff rm -f \(id.prefix(12))")
        }
        return Container(config: config, state: StateFiles.read(directory: dir), directory: dir)
    }

    func save(_ config: ContainerConfig) throws(SkiffError) {
        let dir = root.container(config.id)
        let bytes = config.jsonBytes()
        // A spare directory's old config.json, written over (SpareDirectories).
        if SpareDirectories.writeThrough(dir + "/" + SpareDirectories.reusedFiles["config.json"]!, to: dir + "/config.json",
                                         bytes) == .written { return }
        try Files.writeAtomically(dir + "/config.json", bytes)
    }

    /// IDs of every container directory that has a config (half-created ones
    /// without config are listed too, so `rm -f` can reach them).
    func allIDs() -> [String] {
        Files.list(root.containers).filter { $0.count == 64 }
    }

    /// Full ID, exact name, or a unique ID prefix.
    func resolve(_ reference: String) throws(SkiffError) -> String {
        guard !reference.isEmpty else { throw SkiffError(.usage, "container name or ID must not be empty") }
        if reference.count == 64, Files.isDirectory(root.container(reference)) { return reference }
        if isValidName(reference), let id = try Files.readString(root.names + "/" + reference) {
            let trimmed = id.trimmed
            if Files.isDirectory(root.container(trimmed)) { return trimmed }
        }
        let matches = allIDs().filter { $0.hasPrefix(reference.lowercased()) }
        if matches.count > 1 {
            throw SkiffError(.conflict, "multiple IDs found with provided prefix: \(reference)")
        }
        guard let id = matches.first else { throw SkiffError(.notFound, "No such container: \(reference)") }
        return id
    }

    /// Claims a name atomically (O_EXCL), so two racing runs cannot share it.
    /// `spare`: a name file an earlier container left in a spare directory,
    /// written with our ID and moved into place (no new inode).
    func reserve(name: String, id: String, spare: String? = nil) throws(SkiffError) {
        try Files.makeDirectories(root.names)
        let path = root.names + "/" + name
        var taken = false
        if let spare {
            switch SpareDirectories.writeThrough(spare, to: path, Array(id.utf8), replacing: false) {
            case .written: return
            case .pathExists: taken = true
            case .unavailable: break
            }
        }
        let fd = taken ? -1 : open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            if taken || errno == EEXIST {
                let owner = ((try? Files.readString(path)) ?? nil)?.trimmed ?? "?"
                throw SkiffError(.conflict, "Conflict. The container name \"/\(name)\" is already in use by container \"\(owner)\". You have to remove (or rename) that container to be able to reuse that name.")
            }
            throw SkiffError.system("reserve name \(name)")
        }
        try Files.writeAll(fd, Array(id.utf8), what: path)
        close(fd)
    }

    func release(name: String, id: String) {
        let path = root.names + "/" + name
        if let owner = (try? Files.readString(path)) ?? nil, owner.trimmed == id {
            unlink(path)
        }
    }

    /// Docker's rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]+
    func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.count >= 2 || name.count == 1 else { return false }
        func ok(_ c: Unicode.Scalar) -> Bool { c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c)) }
        guard ok(first) else { return false }
        return name.unicodeScalars.dropFirst().allSatisfy { ok($0) || $0 == "_" || $0 == "." || $0 == "-" }
    }
}

enum JSONCoding {
    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }
    static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}

