import Foundation
import Testing

/// Help screens come from the built binaries: `skiff` and, for the tutor's
/// commands, `skiff-tutor`, which `skiff` execs.
@Suite("help")
struct HelpTests {
    @Test("--help, help COMMAND and COMMAND --help describe the command asked about")
    func helpScreens() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        let root = try box.run(["--help"])
        #expect(root.code == 0)
        #expect(root.stdout.contains("A small, real container runtime"), "\(root.stdout)")
        #expect(root.stdout.contains("tutor") && root.stdout.contains("build"))
        for args in [["help", "run"], ["run", "--help"]] {
            let run = try box.run(args)
            #expect(run.code == 0)
            #expect(run.stdout.contains("USAGE: skiff run"), "\(args): \(run.stdout)")
        }
        let tutor = try box.run(["tutor", "--help"])
        #expect(tutor.code == 0)
        #expect(tutor.stdout.contains("--auto"), "\(tutor.stdout) \(tutor.stderr)")
    }

    @Test("the lesson linter runs through skiff, from the tutor's binary")
    func lessonsLint() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        let lint = try box.run(["lessons", "lint"])
        #expect(lint.code == 0, "\(lint.stdout) \(lint.stderr)")
        #expect(lint.stdout.contains("0 problem(s)"))
        let bad = try box.run(["lessons", "lint", box.root + "/missing.yaml"])
        #expect(bad.code == 1)
        #expect(bad.stderr.contains("missing.yaml"))
    }
}
