import Foundation
import Testing

/// `run` through the image summaries (image-summaries/<manifest hex>): what
/// tag, rmi, prune, build, commit and damaged files do to the next run.
@Suite("Image summaries on the run path", .enabled(if: isRoot, rootReason))
struct ImageSummaryRunTests {
    private func summaries(_ box: Sandbox) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: box.root + "/image-summaries")) ?? []).sorted()
    }

    private func build(_ box: Sandbox, tag: String, word: String) throws {
        let context = "/tmp/skiff-test-ctx-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: context) }
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "FROM busybox\nENV WORD=\(word)\nCMD [\"sh\", \"-c\", \"echo $WORD\"]\n"
            .write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        let result = try box.run(["build", "-q", "-t", tag, context])
        #expect(result.code == 0, "\(result.stderr)")
    }

    @Test func retagRmiPruneAndDamagedSummariesNeverChangeWhatRuns() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        #expect(try box.run(["run", "--rm", "busybox", "true"]).code == 0)
        #expect(summaries(box).count == 1)
        try build(box, tag: "app:1", word: "one")
        try build(box, tag: "app:2", word: "two")
        for _ in 0..<2 { #expect(try box.run(["run", "--rm", "app:1"]).out == "one") }
        #expect(try box.run(["run", "--rm", "app:2"]).out == "two")
        #expect(summaries(box).count == 3)

        // app:1 now names app:2's manifest: the next run follows index.json.
        #expect(try box.run(["tag", "app:2", "app:1"]).code == 0)
        #expect(try box.run(["run", "--rm", "app:1"]).out == "two")

        // Damaged summaries are ignored and written again; a run never fails for them.
        for name in summaries(box) {
            try "not a summary".write(toFile: box.root + "/image-summaries/" + name, atomically: true, encoding: .utf8)
        }
        #expect(try box.run(["run", "--rm", "app:1"]).out == "two")
        #expect(summaries(box).contains { name in
            ((try? String(contentsOfFile: box.root + "/image-summaries/" + name, encoding: .utf8)) ?? "").contains("\"WORD=two\"")
        })
        // Gone, or not even a directory: the run takes the full way.
        try FileManager.default.removeItem(atPath: box.root + "/image-summaries")
        #expect(try box.run(["run", "--rm", "app:1"]).out == "two")
        try FileManager.default.removeItem(atPath: box.root + "/image-summaries")
        try "x".write(toFile: box.root + "/image-summaries", atomically: true, encoding: .utf8)
        #expect(try box.run(["run", "--rm", "app:1"]).out == "two")
        try FileManager.default.removeItem(atPath: box.root + "/image-summaries")

        // By ID prefix, as `images -q` shows it.
        let id = try box.run(["images"]).stdout.split(separator: "\n")
            .first { $0.hasPrefix("app ") }?.split(separator: " ", omittingEmptySubsequences: true)[2] ?? ""
        #expect(id.count == 12)
        for _ in 0..<2 { #expect(try box.run(["run", "--rm", String(id.prefix(6))]).out == "two") }

        // rmi of the last tag deletes the image and its summary; prune the rest.
        let before = summaries(box)
        #expect(try box.run(["rmi", "app:1"]).code == 0)
        #expect(try box.run(["rmi", "app:2"]).code == 0)
        #expect(summaries(box).count == before.count - 1)
        let missing = try box.run(["run", "--rm", "app:2"])
        #expect(missing.code == 125)
        #expect(try box.run(["image", "prune", "-a", "-f"]).code == 0)
        #expect(summaries(box).isEmpty)
        // busybox again: pulled, then run through its new summary.
        for _ in 0..<2 { #expect(try box.run(["run", "--rm", "busybox", "echo", "back"]).out == "back") }
        #expect(summaries(box).count == 1)
        #expect(box.allLeaks().isEmpty)
    }

    @Test func aCommittedImageRunsTwiceAndItsContainerStateReadsBack() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        #expect(try box.run(["run", "--name", "maker", "busybox", "sh", "-c", "echo kept > /note"]).code == 0)
        #expect(try box.run(["commit", "maker", "snap:1"]).code == 0)
        for _ in 0..<2 { #expect(try box.run(["run", "--rm", "snap:1", "cat", "/note"]).out == "kept") }
        // config.json written without Codable reads back through it.
        let created = try box.run(["create", "--name", "later", "-e", "A=x/y\"z", "-w", "/tmp", "snap:1", "true"])
        #expect(created.code == 0)
        let inspect = try box.run(["inspect", "later"])
        #expect(inspect.code == 0)
        let doc = try #require((try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [[String: Any]])?.first)
        let config = try #require(doc["Config"] as? [String: Any])
        #expect((config["Env"] as? [String])?.contains("A=x/y\"z") == true)
        #expect(config["WorkingDir"] as? String == "/tmp")
        #expect(try box.run(["start", "-a", "later"]).code == 0)
        #expect(try box.run(["rm", "later", "maker"]).code == 0)
        #expect(box.allLeaks().isEmpty)
    }
}
