import Foundation
import Testing

/// A build context in a fresh directory: files written from a dictionary.
private final class BuildContextDir {
    let path: String
    init(_ files: [String: String]) throws {
        path = "/tmp/skiff-test-ctx-\(UUID().uuidString.prefix(8))"
        for (name, text) in files { try write(name, text) }
    }
    func write(_ name: String, _ text: String) throws {
        let file = path + "/" + name
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
    }
    func writeData(_ name: String, _ data: Data) throws {
        try data.write(to: URL(fileURLWithPath: path + "/" + name))
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A plain ustar archive with exactly the names given (hostile ones too).
private func ustar(_ files: [(name: String, text: String)]) -> Data {
    var out = Data()
    for file in files {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ s: String, _ offset: Int) { for (i, b) in s.utf8.enumerated() { header[offset + i] = b } }
        put(file.name, 0)
        put("0000644\0", 100); put("0000000\0", 108); put("0000000\0", 116)
        put(String(format: "%011o\0", file.text.utf8.count), 124)
        put("00000000000\0", 136)
        put("        ", 148)
        header[156] = UInt8(ascii: "0")
        put("ustar\0", 257); put("00", 263)
        let sum = header.reduce(0) { $0 + Int($1) }
        put(String(format: "%06o\0 ", sum), 148)
        out.append(contentsOf: header)
        var body = Array(file.text.utf8)
        body += [UInt8](repeating: 0, count: (512 - body.count % 512) % 512)
        out.append(contentsOf: body)
    }
    out.append(contentsOf: [UInt8](repeating: 0, count: 1024))
    return out
}

/// Mounts and cgroups that name a container whose ID starts with `prefix`.
private func kernelLeaks(_ prefix: String) -> [String] {
    var found: [String] = []
    let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    found += mounts.split(separator: "\n").filter { $0.contains(prefix) }.map(String.init)
    for base in ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup"] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: base + "/skiff")) ?? []
        found += names.filter { $0.hasPrefix(prefix) }.map { base + "/skiff/" + $0 }
    }
    return found
}

private func stepsUsingCache(_ output: String) -> [Int] {
    var steps: [Int] = []
    var current = 0
    for line in output.split(separator: "\n") {
        if line.hasPrefix("Step "), let n = Int(line.dropFirst(5).prefix { $0 != "/" }) { current = n }
        if line == " ---> Using cache" { steps.append(current) }
    }
    return steps
}

@Suite("skiff build", .enabled(if: isRoot, rootReason))
struct BuildIntegrationTests {
    static let dockerfile = """
        ARG BASE=busybox
        FROM ${BASE} AS builder
        ARG GREETING=hello
        RUN mkdir -p /out && echo "$GREETING from builder" > /out/greeting.txt

        # the final stage
        FROM busybox
        LABEL org.example.course="skiff" \\
              version=1
        MAINTAINER Skiff Tests
        ENV APP_HOME=/app MODE=test
        ARG WHO=world
        WORKDIR $APP_HOME
        COPY --from=builder /out/greeting.txt ./
        COPY site/ www/
        COPY *.txt notes/
        ADD files.tar /opt/
        COPY --chown=nobody:nobody owned.sh /usr/local/bin/
        SHELL ["/bin/sh", "-c"]
        RUN echo "made by $WHO in $MODE" > made.txt && rm /bin/vi && chmod +x /usr/local/bin/owned.sh
        EXPOSE 80 53/udp
        VOLUME /data
        USER nobody
        ENTRYPOINT ["/bin/sh", "-c"]
        CMD ["cat /app/made.txt"]
        """

    @Test func multiStageBuildRunsCachesAndBreaksTheCacheAtTheChangedCopy() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        let context = try BuildContextDir([
            "Dockerfile": Self.dockerfile,
            ".dockerignore": "*.log\nsite/drafts\n!site/drafts/keep.html\n",
            "site/index.html": "<h1>hello</h1>\n",
            "site/drafts/secret.html": "draft\n",
            "site/drafts/keep.html": "kept\n",
            "a.txt": "A\n", "b.txt": "B\n", "debug.log": "noise\n",
            "owned.sh": "#!/bin/sh\necho owned\n",
        ])
        try context.writeData("files.tar", ustar([("pkg/data.txt", "from the tar\n")]))

        let first = try box.run(["build", "-t", "site:v1", "-t", "site:latest", "--build-arg", "WHO=tests", context.path],
                                timeout: 120)
        #expect(first.code == 0, "\(first.stdout)\n\(first.stderr)")
        #expect(first.stdout.contains("Step 1/21 : FROM ${BASE} AS builder"))
        #expect(first.stdout.contains(" ---> Running in "))
        #expect(first.stdout.contains("Successfully tagged site:v1"))
        #expect(first.stdout.contains("Successfully tagged site:latest"))
        #expect(stepsUsingCache(first.stdout).isEmpty)
        #expect(box.containerIDs.isEmpty, "intermediate containers are removed")

        let check = try box.run(["run", "--rm", "--entrypoint", "", "site:v1", "sh", "-c", """
            pwd; cat greeting.txt www/index.html www/drafts/keep.html notes/a.txt notes/b.txt /opt/pkg/data.txt made.txt
            ls www/drafts; ls notes; stat -c %u:%g /usr/local/bin/owned.sh; test -x /usr/local/bin/owned.sh && echo exec
            test -e /bin/vi || echo no-vi; echo "$MODE $APP_HOME [$WHO] [$GREETING]"
            """])
        #expect(check.code == 0, "\(check.stderr)")
        #expect(check.out == """
            /app
            hello from builder
            <h1>hello</h1>
            kept
            A
            B
            from the tar
            made by tests in test
            keep.html
            a.txt
            b.txt
            65534:65534
            exec
            no-vi
            test /app [] []
            """)
        let cmd = try box.run(["run", "--rm", "site:latest"])
        #expect(cmd.out == "made by tests in test", "\(cmd.stderr)")

        let inspect = try box.run(["image", "inspect", "site:v1"])
        let doc = try #require((try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [[String: Any]])?.first)
        let config = try #require(doc["Config"] as? [String: Any])
        #expect(config["User"] as? String == "nobody")
        #expect(config["WorkingDir"] as? String == "/app")
        #expect(config["Entrypoint"] as? [String] == ["/bin/sh", "-c"])
        #expect(config["Cmd"] as? [String] == ["cat /app/made.txt"])
        #expect((config["Env"] as? [String])?.contains("MODE=test") == true)
        #expect((config["ExposedPorts"] as? [String: Any]).map { Set($0.keys) } == ["80/tcp", "53/udp"])
        #expect((config["Volumes"] as? [String: Any])?.keys.contains("/data") == true)
        #expect((config["Labels"] as? [String: String]) == ["org.example.course": "skiff", "version": "1"])
        #expect(doc["Author"] as? String == "Skiff Tests")
        // busybox's layer, WORKDIR, four COPYs, ADD and RUN.
        #expect(((doc["RootFS"] as? [String: Any])?["Layers"] as? [String])?.count == 8)

        let history = try box.run(["history", "--no-trunc", "site:v1"])
        #expect(history.stdout.contains("COPY site/ /app/www/"), "\(history.stdout)")
        #expect(history.stdout.contains("RUN /bin/sh -c echo \"made by $WHO in $MODE\""))

        if FileManager.default.isExecutableFile(atPath: "/usr/bin/skopeo") {
            let skopeo = try imageCommandRun("/usr/bin/skopeo", ["inspect", "oci:\(box.root)/images:site:v1"])
            #expect(skopeo.status == 0, "\(skopeo.output)")
            #expect(skopeo.output.contains("\"Layers\""))
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/umoci") {
            // umoci applies the layers, whiteouts included, as another runtime would.
            let bundle = box.root + "/bundle"
            let umoci = try imageCommandRun("/usr/bin/umoci", ["unpack", "--image", "\(box.root)/images:site:v1", bundle])
            #expect(umoci.status == 0, "\(umoci.output)")
            let made = try? String(contentsOfFile: bundle + "/rootfs/app/made.txt", encoding: .utf8)
            #expect(made == "made by tests in test\n")
            #expect(!FileManager.default.fileExists(atPath: bundle + "/rootfs/bin/vi"))
            #expect(FileManager.default.fileExists(atPath: bundle + "/rootfs/opt/pkg/data.txt"))
        }

        // The same build again: every step but the FROMs comes from the cache.
        let again = try box.run(["build", "-t", "site:v1", "--build-arg", "WHO=tests", context.path])
        #expect(again.code == 0, "\(again.stderr)")
        #expect(stepsUsingCache(again.stdout) == [2, 3] + Array(5...21), "\(again.stdout)")
        #expect(!again.stdout.contains("Running in"))
        let firstID = first.stdout.split(separator: "\n").last { $0.hasPrefix("Successfully built") }
        #expect(again.stdout.contains(String(firstID ?? "none")))

        // A changed file breaks the cache at the COPY that takes it (step 11), not before.
        try context.write("site/index.html", "<h1>changed</h1>\n")
        let changed = try box.run(["build", "-t", "site:v2", "--build-arg", "WHO=tests", context.path], timeout: 120)
        #expect(changed.code == 0, "\(changed.stderr)")
        #expect(stepsUsingCache(changed.stdout) == [2, 3] + Array(5...10), "\(changed.stdout)")
        // A change to an ignored file changes nothing.
        try context.write("debug.log", "more noise\n")
        try context.write("site/drafts/secret.html", "other draft\n")
        let ignored = try box.run(["build", "-q", "-t", "site:v2", "--build-arg", "WHO=tests", context.path])
        #expect(ignored.code == 0)
        #expect(ignored.out.hasPrefix("sha256:") && !ignored.out.contains("Step"))
        // --no-cache runs every step.
        let fresh = try box.run(["build", "--no-cache", "-t", "site:v3", "--build-arg", "WHO=tests", "--target", "builder",
                                 context.path], timeout: 120)
        #expect(fresh.code == 0, "\(fresh.stderr)")
        #expect(stepsUsingCache(fresh.stdout).isEmpty)
        #expect(fresh.stdout.contains("Step 3/3 :"))
        #expect(try box.run(["run", "--rm", "site:v3", "cat", "/out/greeting.txt"]).out == "hello from builder")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func failingRunShowsItsOutputAndLeavesNothing() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        let context = try BuildContextDir([
            "Dockerfile": "FROM busybox\nRUN touch /made && echo visible-output && exit 3\nCMD [\"true\"]\n",
        ])
        let result = try box.run(["build", "-t", "broken", context.path])
        #expect(result.code == 1)
        #expect(result.stdout.contains("visible-output"))
        #expect(result.stderr.contains("The command '/bin/sh -c touch /made && echo visible-output && exit 3' returned a non-zero code: 3"),
                "\(result.stderr)")
        #expect(!result.stdout.contains("Successfully"))
        let running = result.stdout.split(separator: "\n").first { $0.hasPrefix(" ---> Running in ") }
        let prefix = String(try #require(running).dropFirst(" ---> Running in ".count))
        #expect(prefix.count == 12)
        #expect(kernelLeaks(prefix).isEmpty, "\(kernelLeaks(prefix))")
        #expect(box.containerIDs.isEmpty)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
        #expect(try box.run(["images", "-q"]).out.split(separator: "\n").count == 1, "only busybox")
        let tmp = (try? FileManager.default.contentsOfDirectory(atPath: box.root + "/tmp")) ?? []
        #expect(tmp.filter { !$0.hasSuffix(".lock") }.isEmpty, "\(tmp)")
        // -q keeps the output aside and shows it only because the command failed.
        let quiet = try box.run(["build", "-q", "-t", "broken", context.path])
        #expect(quiet.code == 1)
        #expect(quiet.stdout.isEmpty)
        #expect(quiet.stderr.contains("visible-output\n"), "\(quiet.stderr)")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func ctrlCDuringRunRemovesTheContainer() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        #expect(try box.run(["pull", "busybox"]).code == 0)
        let context = try BuildContextDir(["Dockerfile": "FROM busybox\nRUN sleep 30\n"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Sandbox.skiff)
        process.arguments = ["build", "-t", "slow", context.path]
        process.environment = ProcessInfo.processInfo.environment.merging(["SKIFF_ROOT": box.root]) { $1 }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        // The monitor's pid is the third field of containers/ID/pid.
        var monitor: Int32 = 0
        let deadline = Date().addingTimeInterval(20)
        while monitor == 0 && Date() < deadline {
            if let id = box.containerIDs.first,
               let text = try? String(contentsOfFile: box.root + "/containers/\(id)/pid", encoding: .utf8) {
                let fields = text.split(separator: " ")
                if fields.count >= 3 { monitor = Int32(fields[2]) ?? 0 }
            }
            usleep(20_000)
        }
        #expect(monitor > 0)
        // A terminal's Ctrl-C goes to the whole process group: the builder and
        // the monitor here (the container's PID 1 ignores it), twice.
        for _ in 0..<2 {
            kill(process.processIdentifier, SIGINT)
            if monitor > 0 { kill(monitor, SIGINT) }
            usleep(200_000)
        }
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1, "\(output)")
        #expect(output.contains("returned a non-zero code: 137"), "\(output)")
        #expect(box.containerIDs.isEmpty)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func badDockerfileNamesTheLineAndBuildsNothing() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        let context = try BuildContextDir(["Dockerfile": "FROM busybox\nRUN true\nCOPPY a b\n"])
        let result = try box.run(["build", "-t", "x", context.path])
        #expect(result.code == 1)
        #expect(result.stderr == "skiff: Dockerfile:3: unknown instruction: COPPY\n")
        #expect(!FileManager.default.fileExists(atPath: box.root + "/images/index.json"))
        let url = try BuildContextDir(["Dockerfile": "FROM scratch\nADD http://example.com/x /x\n"])
        let add = try box.run(["build", url.path])
        #expect(add.code == 1)
        #expect(add.stderr.contains("Dockerfile:2: ADD: ADD from a URL (http://example.com/x) is not supported"), "\(add.stderr)")
    }

    @Test(arguments: [
        ("COPY ../outside /x\n", "forbidden path outside the build context: ../outside"),
        ("COPY link /x\n", "forbidden path outside the build context: link"),
        ("COPY dir /d/\n", "forbidden path outside the build context"),
        ("COPY /etc/passwd /x\n", "file not found in the build context"),
        ("ADD evil.tar /opt/\n", ".."),
    ])
    func hostileContextsWriteNothingOutside(line: String, message: String) throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        let parent = try BuildContextDir(["outside": "secret\n"])
        let contextPath = parent.path + "/ctx"
        let marker = "skiff-evil-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: contextPath + "/dir", withIntermediateDirectories: true)
        try ("FROM scratch\n" + line).write(toFile: contextPath + "/Dockerfile", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: contextPath + "/link", withDestinationPath: "/etc/passwd")
        try FileManager.default.createSymbolicLink(atPath: contextPath + "/dir/up", withDestinationPath: "../../outside")
        try ustar([("ok.txt", "fine\n"), ("../../../../../../tmp/\(marker)", "escaped\n")])
            .write(to: URL(fileURLWithPath: contextPath + "/evil.tar"))
        let result = try box.run(["build", "-t", "evil", contextPath])
        #expect(result.code == 1, "\(result.stdout)")
        #expect(result.stderr.contains("Dockerfile:2:"), "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/" + marker))
        #expect(try box.run(["images", "-q"]).out.isEmpty)
        let tmp = (try? FileManager.default.contentsOfDirectory(atPath: box.root + "/tmp")) ?? []
        #expect(tmp.filter { !$0.hasSuffix(".lock") }.isEmpty, "\(tmp)")
    }

    /// Docker's SIZE is what a layer holds, not its tar: a RUN that changed
    /// nothing is 0B, a COPY of a 40-byte file 40B, and the image is the sum.
    @Test func historyAndImagesShowLayerContentSizes() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        let note = String(repeating: "x", count: 39) + "\n"
        let context = try BuildContextDir(["Dockerfile": "FROM busybox\nCOPY note.txt /\nRUN true\n", "note.txt": note])
        #expect(try box.run(["pull", "busybox"]).code == 0)
        let built = try box.run(["build", "-t", "sizes", context.path], timeout: 120)
        #expect(built.code == 0, "\(built.stderr)")
        let rows = try box.run(["history", "--no-trunc", "sizes"]).out.split(separator: "\n")
        func size(of step: String) -> String? {
            rows.first { $0.contains(step) }.map { $0.split(separator: " ").last.map(String.init) ?? "" }
        }
        #expect(size(of: "RUN /bin/sh -c true") == "0B", "\(rows)")
        #expect(size(of: "COPY note.txt /") == "40B", "\(rows)")
        let images = try box.run(["images"]).out.split(separator: "\n")
        let busyboxSize = images.first { $0.hasPrefix("busybox ") }?.split(separator: " ").last
        let sizesSize = images.first { $0.hasPrefix("sizes ") }?.split(separator: " ").last
        #expect(busyboxSize != nil && busyboxSize == sizesSize, "40 bytes more do not show at this scale: \(images)")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func scratchImageWithCopiedFilesAndCacheAcrossUnchangedContext() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        let context = try BuildContextDir([
            "Dockerfile": "FROM scratch\nCOPY hello.txt /\nCOPY dir /dir\nENV A=1\n",
            "hello.txt": "hi\n", "dir/x/y.txt": "deep\n",
        ])
        try FileManager.default.createSymbolicLink(atPath: context.path + "/dir/rel", withDestinationPath: "x/y.txt")
        try context.write("other/Files.dockerfile", "FROM scratch\nCOPY hello.txt /\nCOPY dir /dir\nENV A=1\n")
        try FileManager.default.removeItem(atPath: context.path + "/Dockerfile")
        let built = try box.run(["image", "build", "-t", "files", "-f", context.path + "/other/Files.dockerfile", context.path])
        #expect(built.code == 0, "\(built.stderr)")
        #expect(built.stdout.contains("Successfully tagged files:latest"))
        let save = box.root + "/files.tar"
        #expect(try box.run(["save", "-o", save, "files"]).code == 0)
        let history = try box.run(["history", "files"])
        #expect(history.stdout.contains("COPY dir /dir"))
        let again = try box.run(["build", "-t", "files", "-f", context.path + "/other/Files.dockerfile", context.path])
        #expect(stepsUsingCache(again.stdout) == [2, 3, 4])
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func deletionsInRunHideTheLowerLayersFiles() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        let context = try BuildContextDir([
            "Dockerfile": """
                FROM busybox
                RUN mkdir -p /d/sub && touch /d/a /d/keep /d/sub/b
                RUN rm /d/a && rm -r /d/sub && mkdir /d/sub && touch /d/sub/new
                """,
        ])
        let built = try box.run(["build", "-t", "gone", context.path])
        #expect(built.code == 0, "\(built.stderr)")
        let listing = try box.run(["run", "--rm", "gone", "sh", "-c", "cd /d && find . | sort"])
        #expect(listing.out == ".\n./keep\n./sub\n./sub/new", "\(listing.stderr)")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test func runStepsRunAsTheStagesUser() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        let context = try BuildContextDir([
            "Dockerfile": """
                FROM busybox
                RUN mkdir /home/app && chown 1000:1000 /home/app
                USER 1000:1000
                RUN id -u > /home/app/uid && touch /home/app/made
                USER root
                RUN stat -c %u /home/app/made > /owner
                """,
        ])
        let built = try box.run(["build", "-t", "users", context.path])
        #expect(built.code == 0, "\(built.stdout) \(built.stderr)")
        let seen = try box.run(["run", "--rm", "users", "sh", "-c", "cat /home/app/uid /owner"])
        #expect(seen.out == "1000\n1000", "\(seen.stderr)")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }
}
