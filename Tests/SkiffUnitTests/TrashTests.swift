import Glibc
import SkiffCommon
import Testing

@Suite("Deferred removal")
struct TrashTests {
    func scratch() throws -> String {
        var template = Array("/tmp/skiff-trash-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in
            mkdtemp(buffer.baseAddress!).map { String(cString: $0) }
        }
        return try #require(made)
    }

    @Test("sweepTrash removes what no remover holds, and keeps a tree still locked")
    func sweep() throws {
        let base = try scratch()
        defer { try? Files.removeTree(base) }
        let trash = base + "/tmp"
        try Files.makeDirectories(trash + "/removing-abandoned/upper/etc")
        try Files.writeAtomically(trash + "/removing-abandoned/upper/etc/hosts", "x\n")
        try Files.makeDirectories(trash + "/removing-busy/upper")
        try Files.makeDirectories(trash + "/staging-other")
        // A live remover holds its tree's lock (another open file description).
        let held = open(trash + "/removing-busy", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        #expect(flock(held, LOCK_EX) == 0)
        Files.sweepTrash(trash)
        #expect(!Files.exists(trash + "/removing-abandoned"))
        #expect(Files.exists(trash + "/removing-busy/upper"))
        #expect(Files.exists(trash + "/staging-other"))
        close(held)
        // A process that other tests fork at this moment may hold the
        // descriptor until it execs: give the lock a moment to go.
        for _ in 0..<100 where Files.exists(trash + "/removing-busy") {
            Files.sweepTrash(trash)
            usleep(20_000)
        }
        #expect(!Files.exists(trash + "/removing-busy"))
    }
}

@Suite("spare container directories")
struct SpareDirectoryTests {
    /// A removed container's directory as the helper leaves it in the trash.
    func removedContainer(in trash: String, name: String = "removing-abc", mode: mode_t = 0o755) throws -> String {
        let dir = trash + "/" + name
        #expect(mkdir(dir, 0o710) == 0)
        for sub in ["upper", "work", "merged"] {
            #expect(mkdir(dir + "/" + sub, 0o755) == 0)
            chmod(dir + "/" + sub, mode)
        }
        #expect(mkdir(dir + "/upper/etc", 0o755) == 0)
        #expect(mkdir(dir + "/work/work", 0o755) == 0)
        for file in ["hostname", "hosts", "resolv.conf", "config.json", "pid", "upper/etc/changed", SpareDirectories.nameFile] {
            try Files.writeAtomically(dir + "/" + file, Array("x\n".utf8))
        }
        return dir
    }

    func makeTrash() -> String {
        var template = Array("/tmp/skiff-spare-test-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    @Test func aRemovedContainerBecomesAnEmptiedSkeletonThatCreateTakes() throws {
        let trash = makeTrash()
        defer { try? Files.removeTree(trash) }
        let hidden = try removedContainer(in: trash)
        SpareDirectories.recycleOrRemove(hidden, trash: trash)
        #expect(!Files.exists(hidden))
        let spares = Files.list(trash).filter { $0.hasPrefix("spare-") }
        #expect(spares.count == 1)
        let spare = trash + "/" + spares[0]
        // The skeleton, and config.json, the pid file and the name file under their spare names.
        let kept = SpareDirectories.kept + SpareDirectories.reusedFiles.values + [SpareDirectories.nameFile]
        #expect(Files.list(spare) == kept.sorted())
        #expect(Files.list(spare + "/upper").isEmpty)
        #expect(Files.list(spare + "/work").isEmpty)
        // create renames it into place; a second take finds none.
        #expect(SpareDirectories.take(trash: trash, as: trash + "/container"))
        #expect(Files.list(trash + "/container") == kept.sorted())
        #expect(!SpareDirectories.take(trash: trash, as: trash + "/other"))
    }

    @Test func aSpareFileIsWrittenOverAndRenamedNotMade() throws {
        let dir = makeTrash()
        defer { try? Files.removeTree(dir) }
        try Files.writeAtomically(dir + "/config.json.spare", Array("an old, longer config\n".utf8))
        var before = stat()
        #expect(lstat(dir + "/config.json.spare", &before) == 0)
        #expect(SpareDirectories.writeThrough(dir + "/config.json.spare", to: dir + "/config.json", Array("{}".utf8)) == .written)
        var after = stat()
        #expect(lstat(dir + "/config.json", &after) == 0)
        #expect(after.st_ino == before.st_ino)
        #expect(try Files.readString(dir + "/config.json") == "{}")
        #expect(!Files.exists(dir + "/config.json.spare"))
        // Gone: the caller writes the usual way.
        #expect(SpareDirectories.writeThrough(dir + "/config.json.spare", to: dir + "/config.json", Array("{}".utf8)) == .unavailable)
        // A name is never taken over.
        try Files.writeAtomically(dir + "/name.spare", Array("old-id".utf8))
        try Files.writeAtomically(dir + "/taken", Array("other-id".utf8))
        #expect(SpareDirectories.writeThrough(dir + "/name.spare", to: dir + "/taken", Array("new-id".utf8), replacing: false) == .pathExists)
        #expect(try Files.readString(dir + "/taken") == "other-id")
        // Not a plain file of ours (a link into another container's files): left alone.
        #expect(symlink(dir + "/taken", dir + "/pid.spare") == 0)
        #expect(SpareDirectories.writeThrough(dir + "/pid.spare", to: dir + "/pid", Array("1".utf8)) == .unavailable)
        #expect(try Files.readString(dir + "/taken") == "other-id")
    }

    @Test func aDirectoryThatIsNotPlainlyOursIsDeletedInstead() throws {
        let trash = makeTrash()
        defer { try? Files.removeTree(trash) }
        // A --userns container's upper and work are handed over (another mode here).
        let hidden = try removedContainer(in: trash, mode: 0o700)
        SpareDirectories.recycleOrRemove(hidden, trash: trash)
        #expect(Files.list(trash).isEmpty)
    }

    @Test func thePoolHasALimit() throws {
        let trash = makeTrash()
        defer { try? Files.removeTree(trash) }
        for i in 0..<(SpareDirectories.limit + 2) {
            SpareDirectories.recycleOrRemove(try removedContainer(in: trash, name: "removing-\(i)"), trash: trash)
        }
        #expect(Files.list(trash).filter { $0.hasPrefix("spare-") }.count == SpareDirectories.limit)
        #expect(Files.list(trash).filter { $0.hasPrefix("removing-") }.isEmpty)
    }
}
