import Foundation
import Testing

/// tag, history, image inspect, rmi, save and load on the real binary.
@Suite("image commands", .enabled(if: isRoot, rootReason))
struct ImageCommandTests {
    @Test func tagHistoryInspectRmiSaveLoad() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        #expect(try box.run(["pull", "busybox"]).code == 0)
        #expect(try box.run(["tag", "busybox"]).code == 125)
        let missing = try box.run(["tag", "nope", "x:1"])
        #expect(missing.code == 1)
        #expect(missing.stderr.contains("No such image: nope"))
        #expect(try box.run(["tag", "busybox", "me/app:v1"]).code == 0)

        let id = try box.run(["images", "-q"]).out.split(separator: "\n").first.map(String.init) ?? ""
        #expect(id.count == 12)
        let history = try box.run(["history", "me/app:v1"])
        #expect(history.code == 0)
        let lines = history.out.split(separator: "\n")
        #expect(lines.first?.hasPrefix("IMAGE") == true && lines.first?.contains("CREATED BY") == true)
        #expect(lines.count >= 2 && lines[1].hasPrefix(id))
        #expect(try box.run(["image", "history", "-q", "me/app:v1"]).out == id)

        let inspect = try box.run(["image", "inspect", "me/app:v1"])
        #expect(inspect.code == 0)
        let docs = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [[String: Any]])
        let doc = try #require(docs.first)
        #expect((doc["Id"] as? String)?.hasPrefix("sha256:" + id) == true)
        #expect(doc["RepoTags"] as? [String] == ["busybox:latest", "me/app:v1"])
        #expect(doc["Os"] as? String == "linux")
        #expect(((doc["Config"] as? [String: Any])?["Cmd"]) as? [String] == ["sh"])
        let lower = ((doc["GraphDriver"] as? [String: Any])?["Data"] as? [String: String])?["LowerDir"] ?? ""
        #expect(lower.hasPrefix(box.root + "/layers/"))
        #expect(((doc["RootFS"] as? [String: Any])?["Layers"] as? [String])?.count == 1)
        #expect(try box.run(["image", "ls"]).out.contains("me/app"))

        let run = try box.run(["run", "--name", "user", "me/app:v1", "echo", "from the tag"])
        #expect(run.code == 0)
        #expect(run.out == "from the tag")

        let tar = box.root + "/saved.tar"
        #expect(try box.run(["save", "-o", tar, "me/app:v1"]).code == 0)
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/skopeo") {
            let skopeo = try imageCommandRun("/usr/bin/skopeo", ["inspect", "oci-archive:" + tar])
            #expect(skopeo.status == 0, "\(skopeo.output)")
            #expect(skopeo.output.contains("\"Architecture\""))
        }

        #expect(try box.run(["rmi", "busybox"]).out == "Untagged: busybox:latest")
        let refused = try box.run(["rmi", "me/app:v1"])
        #expect(refused.code == 1)
        #expect(refused.stderr.contains("conflict: unable to remove repository reference \"me/app:v1\" (must force) - container "))
        #expect(refused.stderr.contains("is using its referenced image \(id)"))
        #expect(try box.run(["rm", "user"]).code == 0)
        let removed = try box.run(["image", "rm", "me/app:v1"])
        #expect(removed.code == 0)
        #expect(removed.out.hasPrefix("Untagged: me/app:v1\nDeleted: sha256:" + id))
        #expect(try box.run(["images", "-q"]).out == "")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: box.root + "/images/blobs/sha256")) ?? ["?"]).isEmpty)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: box.root + "/layers")) ?? []).isEmpty)
        #expect(try box.run(["rmi", "me/app:v1"]).code == 1)

        let other = Sandbox()
        defer { other.cleanUp() }
        let load = try other.run(["load", "-i", tar])
        #expect(load.code == 0)
        #expect(load.out == "Loaded image: me/app:v1")
        #expect(try other.run(["images", "-q"]).out == id)
        let again = try other.run(["run", "--rm", "me/app:v1", "echo", "loaded"])
        #expect(again.code == 0)
        #expect(again.out == "loaded")
    }
}

func imageCommandRun(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
