import CShim
import Glibc

/// Names like Docker's "adjective_surname" for containers started without --name.
enum NameGenerator {
    static let adjectives = [
        "brave", "calm", "clever", "curious", "eager", "fearless", "gentle", "happy", "jolly",
        "keen", "lucid", "merry", "nimble", "patient", "quick", "quiet", "sharp", "steady",
        "sunny", "swift", "tidy", "upbeat", "vivid", "witty", "zesty", "bold", "cosmic", "dapper",
    ]
    // People whose work computing stands on.
    static let surnames = [
        "lovelace", "turing", "hopper", "ritchie", "thompson", "torvalds", "liskov", "knuth",
        "dijkstra", "hamilton", "shannon", "neumann", "backus", "mccarthy", "kernighan", "cerf",
        "berners", "allen", "goldberg", "lamport", "tanenbaum", "wozniak", "johnson", "perlman",
        "sammet", "engelbart", "hoare", "wirth", "yao", "zuse",
    ]

    static func random() -> String {
        var bytes: [UInt8] = [0, 0]
        _ = bytes.withUnsafeMutableBytes { skiff_random_bytes($0.baseAddress, 2) }
        return adjectives[Int(bytes[0]) % adjectives.count] + "_" + surnames[Int(bytes[1]) % surnames.count]
    }
}
