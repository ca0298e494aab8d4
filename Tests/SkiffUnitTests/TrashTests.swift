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
        // Close-on-exec: a process another test spawns meanwhile must not inherit the lock.
        let held = open(trash + "/removing-busy", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        #expect(flock(held, LOCK_EX) == 0)
        Files.sweepTrash(trash)
        #expect(!Files.exists(trash + "/removing-abandoned"))
        #expect(Files.exists(trash + "/removing-busy/upper"))
        #expect(Files.exists(trash + "/staging-other"))
        close(held)
        Files.sweepTrash(trash)
        #expect(!Files.exists(trash + "/removing-busy"))
    }
}
