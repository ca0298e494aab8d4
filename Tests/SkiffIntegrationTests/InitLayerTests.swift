import Foundation
import Testing

/// Skiff's init layer (Docker's "-init"): the files and directories the
/// spawn helper mounts over exist below the upper dir, so a container that
/// changed nothing has nothing in its upper dir and nothing in `diff`.
@Suite("init layer")
struct InitLayerTests {
    @Test("a container that changes nothing has an empty upper dir and diff; its mounts are still there",
          .enabled(if: isRoot, rootReason))
    func nothingChangedShowsNothing() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        let id = try box.run(["run", "-d", "busybox", "sleep", "30"]).out
        #expect(id.count == 64)
        let upper = box.root + "/containers/" + id + "/upper"
        #expect(try FileManager.default.contentsOfDirectory(atPath: upper).isEmpty)
        #expect(try box.run(["diff", id]).out.isEmpty)
        let hostname = try box.run(["exec", id, "cat", "/etc/hostname"])
        #expect(hostname.out == String(id.prefix(12)))
        let hosts = try box.run(["exec", id, "grep", "-c", "localhost", "/etc/hosts"])
        #expect(hosts.code == 0)
        // A real change shows, and only it.
        #expect(try box.run(["exec", id, "touch", "/etc/new"]).code == 0)
        #expect(try box.run(["diff", id]).out == "C /etc\nA /etc/new")
        let layers = try box.run(["show", "layers", id])
        #expect(layers.stdout.contains(box.root + "/init-layer"))
        #expect(try box.run(["rm", "-f", id]).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }
}
