import Foundation
import Testing

let hasSkopeo = FileManager.default.isExecutableFile(atPath: "/usr/bin/skopeo")
let hasUmoci = FileManager.default.isExecutableFile(atPath: "/usr/bin/umoci")

/// What Skiff writes, skopeo and umoci read; what umoci makes, Skiff loads and runs.
@Suite("image interop with skopeo and umoci", .enabled(if: isRoot, rootReason))
struct InteropTests {
    /// busybox plus a committed layer that adds /made.txt and deletes /bin/vi.
    func makeCommittedImage(_ box: Sandbox) throws {
        #expect(try box.run(["pull", "busybox"]).code == 0)
        let made = try box.run(["run", "--name", "maker", "busybox", "sh", "-c", "echo made by skiff > /made.txt; rm /bin/vi"])
        #expect(made.code == 0, "\(made.stderr)")
        #expect(try box.run(["commit", "maker", "made:1"]).code == 0)
        #expect(try box.run(["rm", "maker"]).code == 0)
    }

    @Test(.enabled(if: hasSkopeo, "needs skopeo (scripts/deps.sh)"))
    func skopeoInspectsACommittedImage() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        try makeCommittedImage(box)
        let inspect = try box.run(["image", "inspect", "made:1"])
        let doc = try #require((try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [[String: Any]])?.first)
        let skopeo = try imageCommandRun("/usr/bin/skopeo", ["inspect", "oci:\(box.root)/images:made:1"])
        #expect(skopeo.status == 0, "\(skopeo.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(skopeo.output.utf8)) as? [String: Any])
        #expect((json["Layers"] as? [String])?.count == 2)
        #expect(json["Architecture"] as? String == doc["Architecture"] as? String)
        #expect(json["Os"] as? String == "linux")
        // skopeo's config view agrees on the diff_ids.
        let config = try imageCommandRun("/usr/bin/skopeo", ["inspect", "--config", "oci:\(box.root)/images:made:1"])
        let rootfs = (try JSONSerialization.jsonObject(with: Data(config.output.utf8)) as? [String: Any])?["rootfs"] as? [String: Any]
        #expect(rootfs?["diff_ids"] as? [String] == (doc["RootFS"] as? [String: Any])?["Layers"] as? [String])
    }

    @Test(.enabled(if: hasUmoci, "needs umoci (scripts/deps.sh)"))
    func umociUnpacksACommittedImageWithItsWhiteout() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        try makeCommittedImage(box)
        let bundle = box.root + "/bundle"
        let unpack = try imageCommandRun("/usr/bin/umoci", ["unpack", "--image", "\(box.root)/images:made:1", bundle])
        #expect(unpack.status == 0, "\(unpack.output)")
        #expect((try? String(contentsOfFile: bundle + "/rootfs/made.txt", encoding: .utf8)) == "made by skiff\n")
        #expect(FileManager.default.isExecutableFile(atPath: bundle + "/rootfs/bin/busybox"))
        #expect(!FileManager.default.fileExists(atPath: bundle + "/rootfs/bin/vi"), "the whiteout hides vi")
        #expect(!FileManager.default.fileExists(atPath: bundle + "/rootfs/bin/.wh.vi"))
    }

    @Test(.enabled(if: hasUmoci, "needs umoci (scripts/deps.sh)"))
    func anImageMadeByUmociLoadsAndRuns() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        let layout = box.root + "/umoci-layout"
        let bundle = box.root + "/umoci-bundle"
        let image = layout + ":fromumoci:1"
        func umoci(_ args: [String]) throws {
            let result = try imageCommandRun("/usr/bin/umoci", args)
            #expect(result.status == 0, "umoci \(args.joined(separator: " ")): \(result.output)")
        }
        try umoci(["init", "--layout", layout])
        try umoci(["new", "--image", image])
        try umoci(["unpack", "--image", image, bundle])
        // A root file system of busybox alone, as umoci's own layer.
        let rootfs = bundle + "/rootfs"
        let fm = FileManager.default
        try fm.createDirectory(atPath: rootfs + "/bin", withIntermediateDirectories: true)
        try fm.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
        try fm.createSymbolicLink(atPath: rootfs + "/bin/sh", withDestinationPath: "busybox")
        try fm.createSymbolicLink(atPath: rootfs + "/bin/cat", withDestinationPath: "busybox")
        try fm.createDirectory(atPath: rootfs + "/etc", withIntermediateDirectories: true)
        try "made by umoci\n".write(toFile: rootfs + "/etc/origin", atomically: true, encoding: .utf8)
        try umoci(["repack", "--image", image, bundle])
        try umoci(["config", "--image", image, "--config.cmd", "cat", "--config.cmd", "/etc/origin",
                   "--config.env", "PATH=/bin"])

        // `skiff load` of that layout as a tar.
        let tar = box.root + "/umoci.tar"
        let packed = try imageCommandRun("/usr/bin/tar", ["-C", layout, "-cf", tar, "."])
        #expect(packed.status == 0, "\(packed.output)")
        let load = try box.run(["load", "-i", tar])
        #expect(load.code == 0, "\(load.stderr)")
        #expect(load.out == "Loaded image: fromumoci:1", "\(load.stdout)")
        let run = try box.run(["run", "--rm", "fromumoci:1"])
        #expect(run.code == 0, "\(run.stderr)")
        #expect(run.out == "made by umoci")
        let sh = try box.run(["run", "--rm", "fromumoci:1", "sh", "-c", "echo $((6 * 7))"])
        #expect(sh.out == "42")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }
}
