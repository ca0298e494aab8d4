import ArgumentParser
import Glibc
import SkiffCommon
import SkiffEngine
import SkiffImages

/// `skiff _layer`: drives the layer code directly for bench/unpack-bench.sh.
/// Hidden from help: it is a measuring tool, not a learner's command.
struct LayerBench: SkiffCommand {
    static let configuration = CommandConfiguration(
        commandName: "_layer", abstract: "Unpack or create a layer directly (for benchmarks)", shouldDisplay: false)
    @Argument(help: "unpack ARCHIVE DIR, install ARCHIVE DIFF_ID DIR, or create DIR OUT") var words: [String]

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        switch (words.first, words.count) {
        case ("unpack", 3):
            // Extraction alone, into an existing directory.
            _ = try LayerUnpacker.unpack(archive: words[1], into: words[2])
        case ("install", 4):
            // What `run` does on first use: verify the diff_id, extract, rename into place.
            let parent = String(words[3][..<(words[3].lastIndex(of: "/") ?? words[3].startIndex)])
            try LayerUnpacker.install(archive: words[1], diffID: try Digest(parsing: words[2]), at: words[3],
                                      staging: parent.isEmpty ? "." : parent)
        case ("create", 3):
            let layer = try LayerFromDirectory.layer(of: words[1])
            let fd = try syscall("create \(words[2])") { open(words[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
            defer { close(fd) }
            try Files.writeAll(fd, layer.bytes, what: words[2])
            print(layer.diffID)
        default:
            throw SkiffError(.usage, "usage: skiff _layer unpack ARCHIVE DIR | install ARCHIVE DIFF_ID DIR | create DIR OUT")
        }
        return 0
    }
}
