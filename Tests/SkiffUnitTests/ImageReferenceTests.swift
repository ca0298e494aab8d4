import SkiffCommon
import SkiffImages
import Testing

@Suite("Image references")
struct ImageReferenceTests {
    struct Good: Sendable, CustomTestStringConvertible {
        var input: String
        var domain: String
        var path: String
        var tag: String?
        var digest: String?
        var familiar: String
        var testDescription: String { input }
    }

    static let hex = String(repeating: "ab", count: 32)

    static let good: [Good] = [
        Good(input: "busybox", domain: "docker.io", path: "library/busybox", tag: "latest", familiar: "busybox:latest"),
        Good(input: "busybox:1.36", domain: "docker.io", path: "library/busybox", tag: "1.36", familiar: "busybox:1.36"),
        Good(input: "library/busybox", domain: "docker.io", path: "library/busybox", tag: "latest", familiar: "busybox:latest"),
        Good(input: "docker.io/library/busybox:latest", domain: "docker.io", path: "library/busybox", tag: "latest", familiar: "busybox:latest"),
        Good(input: "docker.io/busybox", domain: "docker.io", path: "library/busybox", tag: "latest", familiar: "busybox:latest"),
        Good(input: "index.docker.io/library/busybox", domain: "docker.io", path: "library/busybox", tag: "latest", familiar: "busybox:latest"),
        Good(input: "me/app:v1.2_3-rc", domain: "docker.io", path: "me/app", tag: "v1.2_3-rc", familiar: "me/app:v1.2_3-rc"),
        Good(input: "localhost:5000/x/y:tag", domain: "localhost:5000", path: "x/y", tag: "tag", familiar: "localhost:5000/x/y:tag"),
        Good(input: "localhost/x", domain: "localhost", path: "x", tag: "latest", familiar: "localhost/x:latest"),
        Good(input: "registry.example.com/a/b/c", domain: "registry.example.com", path: "a/b/c", tag: "latest", familiar: "registry.example.com/a/b/c:latest"),
        Good(input: "a.b-c.D:5000/f.g", domain: "a.b-c.D:5000", path: "f.g", tag: "latest", familiar: "a.b-c.D:5000/f.g:latest"),
        Good(input: "my_app__x-y---z", domain: "docker.io", path: "library/my_app__x-y---z", tag: "latest", familiar: "my_app__x-y---z:latest"),
        Good(input: "busybox@sha256:\(hex)", domain: "docker.io", path: "library/busybox", tag: nil, digest: "sha256:\(hex)", familiar: "busybox@sha256:\(hex)"),
        Good(input: "busybox:1.36@sha256:\(hex)", domain: "docker.io", path: "library/busybox", tag: "1.36", digest: "sha256:\(hex)", familiar: "busybox:1.36@sha256:\(hex)"),
        Good(input: "localhost:5000", domain: "docker.io", path: "library/localhost", tag: "5000", familiar: "localhost:5000"),
    ]

    @Test("parses", arguments: good)
    func parses(_ good: Good) throws {
        let ref = try ImageReference(parsing: good.input)
        #expect(ref.domain == good.domain)
        #expect(ref.path == good.path)
        #expect(ref.tag == good.tag)
        #expect(ref.digest?.description == good.digest)
        #expect(ref.familiarName == good.familiar)
        // The familiar name parses back to the same reference.
        #expect(try ImageReference(parsing: ref.familiarName) == ref)
    }

    @Test func busyboxIsLibraryBusybox() throws {
        let ref = try ImageReference(parsing: "busybox")
        #expect(ref.repository == "busybox")
        #expect(ref.fullRepository == "docker.io/library/busybox")
        #expect(ref.fullName == "docker.io/library/busybox:latest")
        #expect(try ref.withTag("1.36").familiarName == "busybox:1.36")
    }

    static let bad: [(String, String)] = [
        ("", "invalid reference format: an image name is empty"),
        ("Busybox", "invalid reference format: repository name must be lowercase"),
        ("me/MyApp:1", "invalid reference format: repository name must be lowercase"),
        ("busy box", "invalid reference format"),
        ("busybox!", "invalid reference format"),
        ("-busybox", "invalid reference format"),
        ("busybox-", "invalid reference format"),
        ("a..b", "invalid reference format"),
        ("a___b", "invalid reference format"),
        ("a//b", "invalid reference format"),
        ("busybox:", "invalid reference format"),
        ("busybox:-x", "invalid reference format"),
        ("busybox:" + String(repeating: "t", count: 129), "invalid reference format"),
        ("busybox@sha256:abc", "invalid reference format"),
        ("busybox@md5:" + String(repeating: "a", count: 32), "invalid reference format"),
        (":latest", "invalid reference format"),
        ("localhost:port/x", "invalid reference format"),
        ("a.b__c/x", "invalid reference format"),
        (hex, "invalid reference format: repository name cannot be 64 hexadecimal characters"),
        ("-a.b/x", "invalid reference format"),
        ("x/" + String(repeating: "a", count: 260), "invalid reference format: repository name must not be more than 255 characters"),
    ]

    @Test("rejects with one usage line", arguments: bad)
    func rejects(_ input: String, _ message: String) {
        #expect {
            try ImageReference(parsing: input)
        } throws: { error in
            guard let error = error as? SkiffError else { return false }
            return error.kind == .usage && error.message.hasPrefix(message) && !error.message.contains("\n")
        }
    }
}
