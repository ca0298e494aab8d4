import Foundation
import Testing

/// `skiff commit` on the real binary: a container's changes become an image.
@Suite("image commit", .enabled(if: isRoot, rootReason))
struct ImageCommitIntegrationTests {
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
