import Testing
@testable import SkiffCLI
import SkiffBuild

@Suite("build: command line")
struct BuildCLITests {
    @Test func flagsBecomeBuildOptions() throws {
        let parsed = try Skiff.parseAsRoot(["build", "-t", "site:v1", "--tag", "site:latest", "-f", "web.Dockerfile",
                                            "--build-arg", "A=1", "--build-arg", "B=x=y", "--no-cache",
                                            "--target", "builder", "-q", "ctx"])
        let options = try #require(parsed as? Build).options
        #expect(options.context == "ctx")
        #expect(options.tags == ["site:v1", "site:latest"])
        #expect(options.dockerfile == "web.Dockerfile")
        #expect(options.buildArgs == ["A": "1", "B": "x=y"])
        #expect(options.noCache && options.quiet)
        #expect(options.target == "builder")
        let image = try #require(try Skiff.parseAsRoot(["image", "build", "-t", "x", "."]) as? ImageBuild)
        #expect(image.build.options.tags == ["x"])
        #expect(image.build.options.context == ".")
        #expect(throws: (any Error).self) { try Skiff.parseAsRoot(["build", "-t", "x"]) }
    }
}
