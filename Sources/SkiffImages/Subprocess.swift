import CArchive
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Runs a program with posix_spawn and captures its standard output (for
/// `busybox --list-full`). Standard input and error are /dev/null.
public enum Subprocess {
    public struct Output {
        public var status: Int32
        public var stdout: [UInt8]
        public var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    public static func run(_ path: String, _ arguments: [String]) throws(SkiffError) -> Output {
        var fds: [Int32] = [-1, -1]
        let piped = fds.withUnsafeMutableBufferPointer { skiff_archive_pipe_cloexec($0.baseAddress!) }
        guard piped == 0 else { throw SkiffError.system("create a pipe for \(path)") }
        let (readEnd, writeEnd) = (fds[0], fds[1])

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { (s: String) in strdup(s) } + [nil]
        defer { for p in argv { free(p) } }
        let environment = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { for p in envp { free(p) } }

        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
        close(writeEnd)
        guard rc == 0 else {
            close(readEnd)
            throw SkiffError.system("run \(path)", errno: rc)
        }

        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            output.append(contentsOf: buffer[0..<n])
        }
        close(readEnd)

        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { throw SkiffError.system("wait for \(path)") }
        }
        // WIFEXITED / WEXITSTATUS are macros: decode the wait status by hand.
        let exitCode: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Output(status: exitCode, stdout: output)
    }
}
