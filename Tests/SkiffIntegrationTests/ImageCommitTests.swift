import Foundation
import SkiffCommon
import Testing

/// `skiff commit` on the real binary: a container's changes become an image.
@Suite("image commit", .enabled(if: isRoot, rootReason))
struct ImageCommitIntegrationTests {
    /// The layer is streamed from the upper dir into tmp/ and moved into
    /// the store: a 200 MB file never sits in commit's memory.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/time"), "needs GNU time for the peak memory"))
    func commitOfABigFileStaysSmallInMemory() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        #expect(try box.run(["pull", "busybox"]).code == 0)
        let made = try box.run(["run", "--name", "zeros", "busybox", "dd", "if=/dev/zero", "of=/zeros.bin",
                                "bs=1048576", "count=200"], timeout: 120)
        #expect(made.code == 0, "\(made.stderr)")
        let timed = try imageCommandRun("/usr/bin/time", ["-v", Sandbox.skiff, "commit", "zeros", "zeros:1"],
                                        env: ["SKIFF_ROOT": box.root])
        #expect(timed.status == 0, "\(timed.output)")
        let peak = timed.output.split(separator: "\n").first { $0.contains("Maximum resident set size") }
            .flatMap { Int($0.split(separator: " ").last ?? "") }
        let kib = try #require(peak, "\(timed.output)")
        // Held in memory, the file alone would be 200 MiB.
        #expect(kib > 0 && kib < 64 * 1024, "commit peaked at \(kib) KiB")
        #expect(Files.list(box.root + "/tmp").allSatisfy { !$0.hasPrefix("layer-") })
        let run = try box.run(["run", "--rm", "zeros:1", "sh", "-c", "wc -c < /zeros.bin"], timeout: 120)
        #expect(run.out == "209715200", "\(run.stderr)")
        #expect(try box.run(["rm", "zeros"]).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func commitAddsAndDeletesFiles() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        #expect(try box.run(["pull", "busybox"]).code == 0)
        let made = try box.run(["run", "--name", "maker", "busybox", "sh", "-c",
                                "echo hello from commit > /hello.txt && rm /bin/vi"])
        #expect(made.code == 0, "\(made.stderr)")

        let commit = try box.run(["commit", "-m", "add hello, drop vi", "maker", "mybox:v2"])
        #expect(commit.code == 0, "\(commit.stderr)")
        #expect(commit.out.hasPrefix("sha256:") && commit.out.count == 71)
        let ids = try box.run(["images", "-q"]).out.split(separator: "\n").map(String.init)
        #expect(ids.contains(String(commit.out.dropFirst(7).prefix(12))))

        let history = try box.run(["history", "mybox:v2"])
        #expect(history.code == 0)
        let rows = history.out.split(separator: "\n").dropFirst()
        #expect(rows.count == 2)
        #expect(rows.first?.contains("skiff commit") == true)
        #expect(rows.first?.contains("add hello, drop vi") == true)

        let inspect = try box.run(["image", "inspect", "mybox:v2"])
        let docs = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [[String: Any]])
        #expect(((docs.first?["RootFS"] as? [String: Any])?["Layers"] as? [String])?.count == 2)
        #expect(((docs.first?["Config"] as? [String: Any])?["Cmd"]) as? [String] == ["sh", "-c", "echo hello from commit > /hello.txt && rm /bin/vi"])

        let hello = try box.run(["run", "--rm", "mybox:v2", "cat", "/hello.txt"])
        #expect(hello.code == 0, "\(hello.stderr)")
        #expect(hello.out == "hello from commit")
        let vi = try box.run(["run", "--rm", "mybox:v2", "sh", "-c", "test -e /bin/vi && echo present || echo gone; test -e /bin/ls && echo ls"])
        #expect(vi.out == "gone\nls")

        // A running container can be committed too; without a name the image is untagged.
        let bg = try box.run(["run", "-d", "--name", "bg", "busybox", "sh", "-c", "touch /made && sleep 30"])
        #expect(bg.code == 0, "\(bg.stderr)")
        usleep(300_000)
        let untagged = try box.run(["commit", "bg"])
        #expect(untagged.code == 0, "\(untagged.stderr)")
        #expect(untagged.out.hasPrefix("sha256:"))
        #expect(try box.run(["images"]).out.contains("<none>"))
        #expect(try box.run(["commit", "nope", "x:1"]).code == 1)

        #expect(try box.run(["rm", "-f", "maker", "bg"]).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }
}
