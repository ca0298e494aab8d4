import Foundation
import Testing

/// The CLI's foreground `run`: the spawn helper is started before the
/// container exists and waited for; signals sent to the CLI reach the
/// container; `--rm` removal finishes in the background.
@Suite("foreground run")
struct ForegroundRunTests {
    @Test("SIGTERM sent to the CLI reaches the container, whose exit code the CLI returns",
          .enabled(if: isRoot, rootReason))
    func signalProxy() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        let mark = box.root + "/mark"
        try FileManager.default.createDirectory(atPath: mark, withIntermediateDirectories: true)
        let result = try box.shell("""
            "$0" run --rm -v \(mark):/mark busybox sh -c 'trap "exit 7" TERM; touch /mark/ready; while :; do sleep 0.05; done' &
            cli=$!
            i=0
            while [ ! -e \(mark)/ready ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
            kill -TERM $cli
            wait $cli
            echo "code=$?"
            """)
        #expect(result.out.hasSuffix("code=7"), "\(result.stdout) \(result.stderr)")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
        #expect(box.containerIDs.isEmpty)
    }

    @Test("a run that fails before its container starts leaves no helper behind",
          .enabled(if: isRoot, rootReason))
    func abandonedHelper() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        // The CLI started a standby helper before it knew the image is unknown.
        // A standby still waiting for its command holds the socket as fd 4
        // (its warm-up grandchild, which may linger in a slow cgroup write
        // under load, holds no descriptors).
        let result = try box.shell("""
            "$0" run --rm no-such-image:1 true
            echo "code=$?"
            for p in $(pgrep -f "skiff-spawn [s]tandby"); do
              tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | grep -qx "SKIFF_ROOT=$SKIFF_ROOT" && [ -e /proc/$p/fd/4 ] && echo helper-left
            done
            echo checked
            """)
        #expect(result.stdout.contains("code=125"), "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("checked") && !result.stdout.contains("helper-left"))
        #expect(result.stderr.contains("no-such-image"))
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test("--rm: the container is gone when run returns, and its directory soon after",
          .enabled(if: isRoot, rootReason))
    func removalInBackground() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        let result = try box.run(["run", "--rm", "busybox", "sh", "-c", "echo hi > /file; echo done"])
        #expect(result.code == 0)
        #expect(result.out == "done")
        #expect(box.containerIDs.isEmpty)
        #expect(try box.run(["ps", "-aq"]).out.isEmpty)
        #expect(box.unfinishedRemovals().isEmpty)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test("a detached container with a terminal has its output in logs", .enabled(if: isRoot, rootReason))
    func detachedTerminalLogs() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        let id = try box.run(["run", "-d", "-t", "busybox", "sh", "-c", "echo hello-from-tty; tty"]).out
        #expect(id.count == 64)
        #expect(try box.run(["wait", id]).out == "0")
        let logs = try box.run(["logs", id])
        #expect(logs.stdout.contains("hello-from-tty"), "\(logs.stdout) \(logs.stderr)")
        // stdio is a terminal from the container's own devpts, as in Docker.
        #expect(logs.stdout.contains("/dev/pts/0"), "\(logs.stdout)")
        #expect(try box.run(["rm", id]).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }
}
