import Foundation
import Testing

/// The CLI's foreground `run`: the spawn helper is started before the
/// container exists and waited for; signals sent to the CLI reach the
/// container; `--rm` removal finishes in the background.
@Suite("foreground run")
struct ForegroundRunTests {
    /// Shell functions: `standbys` lists this sandbox's standby helpers (by
    /// their SKIFF_ROOT), `earlyInits` those of them that are early inits
    /// (clones in a pid namespace of their own).
    static let standbyFunctions = """
        standbys() {
          for p in $(pgrep -f "skiff-spawn [s]tandby"); do
            tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | grep -qx "SKIFF_ROOT=$SKIFF_ROOT" && echo $p
          done
        }
        earlyInits() {
          for p in $(standbys); do [ "$(readlink /proc/$p/ns/pid)" != "$(readlink /proc/self/ns/pid)" ] && echo $p; done
        }
        """

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
            \(Self.standbyFunctions)
            "$0" run --rm no-such-image:1 true
            echo "code=$?"
            for p in $(standbys); do [ -e /proc/$p/fd/4 ] && echo helper-left; done
            echo checked
            """)
        #expect(result.stdout.contains("code=125"), "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("checked") && !result.stdout.contains("helper-left"))
        #expect(result.stderr.contains("no-such-image"))
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test("an early init the run cannot use ends with its helper, and one it uses has the right /proc, /sys and /dev",
          .enabled(if: isRoot, rootReason))
    func earlyInitFitsOrEnds() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        // The early init is a clone of the standby (same command line) in
        // pid namespaces of its own. -d and --privileged do not fit what it
        // staged (a grandchild monitor; no masks); a failed run never sends
        // it a command. None may outlive the CLI.
        let result = try box.shell("""
            \(Self.standbyFunctions)
            left() { for p in $(earlyInits); do echo "init-left after $1"; done; }
            id=$("$0" run -d busybox sleep 30); left detach
            "$0" run --rm --privileged busybox sh -c 'grep -c " /proc/kcore \\| /sys/firmware " /proc/self/mountinfo; touch /sys/kernel/x 2>&1 | grep -c Read-only'
            left privileged
            "$0" run --rm no-such-image:2 true 2>/dev/null; left failure
            "$0" run --rm busybox sh -c 'grep -c " /sys/firmware " /proc/self/mountinfo; touch /sys/x 2>&1 | grep -c Read-only; echo $(ls /dev)'
            left plain
            "$0" rm -f $id >/dev/null
            echo checked
            """)
        #expect(result.stdout.contains("checked") && !result.stdout.contains("init-left"), "\(result.stdout) \(result.stderr)")
        let lines = result.out.split(separator: "\n").map(String.init)
        // --privileged: nothing masked, /sys writable as a directory allows.
        #expect(lines.count >= 5 && lines[0] == "0" && lines[1] == "0", "\(lines)")
        // A plain run (the staged trees): /sys/firmware masked, /sys read-only, the usual /dev.
        #expect(lines.count >= 5 && lines[2] == "1" && lines[3] == "1", "\(lines)")
        #expect(lines.count >= 5 && lines[4] == "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero", "\(lines)")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test("an early init killed while it waits is replaced, and the run's command still runs",
          .enabled(if: isRoot, rootReason))
    func deadEarlyInitIsReplaced() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        #expect(try box.run(["run", "--rm", "busybox", "true"]).code == 0)  // the image exists
        // Holding the store's lock keeps `create` waiting while the early
        // init waits for its command; it is killed meanwhile.
        let result = try box.shell("""
            mkdir -p "$SKIFF_ROOT/tmp"
            exec 9>"$SKIFF_ROOT/tmp/gc.lock"
            flock -x 9
            "$0" run --rm busybox sh -c 'echo RAN; exit 3' > "$SKIFF_ROOT/out" 2>&1 &
            cli=$!
            \(Self.standbyFunctions)
            killed=0; i=0
            while [ $killed = 0 ] && [ $i -lt 100 ]; do
              for p in $(earlyInits); do kill -9 $p && killed=1; done
              sleep 0.02; i=$((i+1))
            done
            flock -u 9
            wait $cli
            echo "code=$? killed=$killed"
            cat "$SKIFF_ROOT/out"
            """)
        #expect(result.stdout.contains("code=3 killed=1"), "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("RAN"), "\(result.stdout)")
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }

    @Test("run works under a low descriptor limit and with stdin closed", .enabled(if: isRoot, rootReason))
    func lowDescriptorLimitAndClosedStdin() throws {
        let box = Sandbox()
        defer { box.cleanUp() }
        // The helper's descriptors pass through spare numbers on their way
        // to 3, 4 and 5; a closed stdin must not end up as the status pipe.
        let result = try box.shell("""
            (ulimit -n 256; "$0" run --rm busybox echo limited)
            "$0" run --rm busybox echo closed <&-
            """)
        #expect(result.out == "limited\nclosed", "\(result.stdout) \(result.stderr)")
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
