import Foundation
import Testing
@testable import SkiffCLI
@testable import SkiffEngine
import SkiffCommon

/// `skiff run`'s hand-written flag reader (RunFastPath) against
/// ArgumentParser's `Run.parse`: the same answer for every line the reader
/// takes, nil for every line it must leave to ArgumentParser, and no flag
/// declared in `ContainerFlags` or `Run` that the reader does not know.
@Suite("run's fast flag reader")
struct RunFastPathTests {
    /// Realistic `run` lines (what follows `run`): every flag in both
    /// spellings, combined short flags, `--`, commands with dashes of their
    /// own, repeated options, `=` forms, values the engine will refuse.
    static let sameAsArgumentParser: [[String]] = [
        ["busybox"], ["busybox", "true"], ["--rm", "busybox", "true"],
        ["-it", "busybox", "sh"], ["-ti", "busybox", "sh"], ["-dit", "busybox"], ["-itd", "--name", "web", "busybox"],
        ["-d", "busybox", "sleep", "5"], ["--detach", "busybox"], ["--interactive", "--tty", "busybox"],
        ["-i", "-t", "-d", "busybox"], ["-iiii", "busybox"], ["--rm", "--rm", "busybox"],
        // Everything after the image is the command's.
        ["busybox", "ls", "-la", "/"], ["busybox", "echo", "-e", "hi"], ["busybox", "sh", "-c", "echo $HOME; ls -l"],
        ["busybox", "--rm", "true"], ["busybox", "-it"], ["busybox", "--name", "x"], ["busybox", "--help"],
        ["busybox", "-h"], ["busybox", "true", "--rm"], ["-it", "busybox", "sh", "-c", "exec -it"],
        ["busybox", "echo", "-.x", "-a.b", "--=x", "-x=y", "-é"], ["-e", "A", "busybox", "", "x"],
        // "--": before the image it ends the flags; after it, it is the command's.
        ["busybox", "--", "ls"], ["--", "busybox", "ls"], ["--rm", "--", "busybox", "ls", "--rm"],
        ["--name", "x", "--", "busybox", "--", "y"], ["-d", "--", "busybox"], ["busybox", "--", "--"],
        ["busybox", "--", "---"], ["--", "busybox", "---"], ["busybox", "echo", "--", "-=x", "----"],
        ["busybox", "--", "--generate-completion-script"], ["--", "busybox", "--generate-completion-script"],
        ["busybox", "--generate-completion-scripts"], ["busybox", "--experimental-dump-help"], ["busybox", "--version"],
        // Long options, both spellings, repeated.
        ["--name", "web", "busybox"], ["--name=web", "busybox"], ["--name", "a", "--name", "b", "busybox"],
        ["--name=a=b", "busybox"], ["--name=--help", "busybox"], ["--name=-x", "busybox"], ["--name", "", "busybox"],
        ["--name", "my name", "busybox", "sh", "-c", "a b"], ["--name", "ä", "busybox"],
        ["-e", "A=1", "-e", "B", "--env", "C=3", "--env=D=4", "busybox", "env"], ["-e", "A=-1", "busybox"],
        ["-e", "=", "busybox"], ["-e", "", "busybox"],
        ["--env-file", "a.env", "--env-file=b.env", "busybox"],
        ["-v", "/srv:/data:ro", "-v", "/tmp:/tmp", "--volume", "/a:/b", "--volume=/c:/d", "busybox"],
        ["-h", "myhost", "busybox"], ["-h", "x", "busybox", "true"], ["--hostname", "h", "-h", "i", "busybox"],
        ["--hostname=h1", "busybox"], ["-it", "-h", "x", "busybox", "-h"],
        ["-w", "/tmp", "busybox"], ["--workdir", "/a", "-w", "/b", "busybox"], ["--workdir=/srv", "busybox", "pwd"],
        ["-w", "", "busybox"],
        ["--entrypoint", "/bin/sh", "busybox", "-c", "echo hi"], ["--entrypoint", "", "busybox"],
        ["-m", "64m", "busybox"], ["--memory", "1g", "-m", "2g", "busybox"], ["--memory=512k", "busybox"],
        ["--pids-limit", "20", "busybox"], ["--pids-limit=-1", "busybox"], ["--pids-limit=+5", "busybox"],
        ["--pids-limit", "0", "--pids-limit", "7", "busybox"],
        ["--cpus", "0.5", "busybox"], ["--cpus=1.5", "--cpus", "2", "busybox"],
        ["--cap-add", "NET_ADMIN", "--cap-add=SYS_TIME", "--cap-drop", "ALL", "--cap-drop=NET_RAW", "busybox"],
        ["--privileged", "--read-only", "busybox"],
        ["--security-opt", "seccomp=unconfined", "--security-opt=no-new-privileges", "busybox"],
        ["-u", "1000:1000", "busybox", "id"], ["--user", "nobody", "busybox"], ["--user=0", "busybox"],
        ["--ulimit", "nofile=1024:2048", "--ulimit=nproc=10", "busybox"],
        ["--group-add", "audio", "--group-add=10", "busybox"],
        ["--userns", "private", "busybox"], ["--userns=host", "busybox"],
        // Short options inside a group take the following arguments, in order.
        ["-ite", "A=1", "busybox"], ["-ie", "A", "-t", "busybox"], ["-ei", "A", "busybox"],
        ["-ev", "A", "/a:/b", "busybox"], ["-ve", "/a:/b", "A", "busybox"],
        ["-evh", "A", "/a:/b", "H", "busybox", "x"], ["-tiv", "/a:/b", "busybox", "sh"], ["-mm", "1g", "2g", "busybox"],
        ["-dh", "x", "busybox"], ["-hd", "x", "busybox"], ["-dih", "h", "busybox"], ["-im", "1g", "busybox"],
        ["-ee", "A", "B", "busybox"], ["-iw", "/tmp", "-u", "0", "busybox"],
        // Odd but taken by both alike.
        ["", "true"], ["-i", " busybox"], ["--name", "-\u{301}x", "busybox"], ["-\u{301}x", "busybox"],
        // Values the engine refuses: the reader takes them, the shared check refuses them.
        ["--memory", "12q", "busybox"], ["-v", "relative:/x", "busybox"], ["--userns", "bogus", "busybox"],
        ["--ulimit", "nofile", "busybox"], ["--security-opt", "bogus", "busybox"], ["--cpus", "lots", "busybox"],
        // A long line with most of it.
        ["-it", "--rm", "--name", "web", "-e", "A=1", "-e", "B", "-v", "/srv:/data:ro", "--memory", "64m",
         "--pids-limit", "20", "--cpus", "0.5", "-w", "/tmp", "--hostname", "h1", "--cap-drop", "ALL",
         "--cap-add=NET_BIND_SERVICE", "--read-only", "--security-opt", "no-new-privileges", "-u", "1000",
         "--ulimit", "nofile=64", "--group-add", "10", "--userns", "private", "--entrypoint", "/bin/sh",
         "--env-file", "x.env", "busybox:latest", "-c", "ls -la /"],
    ]

    @Test(arguments: sameAsArgumentParser)
    func readsLikeArgumentParser(_ arguments: [String]) throws {
        let fast = try #require(RunFastPath.read(arguments[...]), "the fast reader refused \(arguments)")
        let parsed = try Run.parse(arguments)
        #expect(fast == parsed.request)
        // The RunSpec (or the error) each gives, every field.
        #expect(describeSpec(fast) == describeSpec(parsed.request))
    }

    /// Lines ArgumentParser refuses: the reader must refuse them too, so
    /// that ArgumentParser prints its message (help for `-h`, `--help`).
    static let refusedByBoth: [[String]] = [
        [], ["--rm"], ["--"], ["--rm", "--"], ["--name"], ["-e"], ["-e", "A"], ["-ie"],
        ["--help"], ["-h"], ["-h", "busybox"], ["--help", "busybox"], ["--name", "x", "--help"], ["--help=x", "busybox"],
        ["-help", "busybox"], ["--bogus", "busybox"], ["-z", "busybox"], ["-iz", "busybox"], ["-p", "80:80", "busybox"],
        ["-name", "x", "busybox"], ["-rm", "busybox"], ["--Name", "x", "busybox"], ["--na", "x", "busybox"],
        ["---rm", "busybox"], ["--=x", "busybox"], ["--rm=true", "busybox"], ["--tty=false", "busybox"],
        ["-d=x", "busybox"], ["-i-", "busybox"], ["-i.", "busybox"],
        // A value cannot begin with a dash unless it is attached with "=".
        ["--name", "-x", "busybox"], ["--name", "--rm", "busybox"], ["-e", "--help", "busybox"], ["-e", "-1", "busybox"],
        ["--pids-limit", "-1", "busybox"], ["-u", "-1", "busybox"], ["-h", "-x", "busybox"], ["--name", "--", "busybox"],
        ["-ee", "A", "-i", "B", "busybox"],
        // Not numbers.
        ["--pids-limit", "abc", "busybox"], ["--pids-limit", " 5", "busybox"],
        ["--pids-limit=99999999999999999999", "busybox"], ["--pids-limit", "1.5", "busybox"],
        // "--x=" takes the next argument as its value, then there is no image.
        ["--name=", "busybox"], ["--pids-limit=", "busybox"], ["--entrypoint=", "busybox"],
        // Attached short values are not ArgumentParser's.
        ["-eA=1", "busybox"], ["-m64m", "busybox"], ["-w/tmp", "busybox"], ["-hmyhost", "busybox"], ["-eit", "busybox"],
        // ArgumentParser still splits the command's arguments up to the first "--".
        ["busybox", "echo", "---"], ["busybox", "---x"], ["busybox", "echo", "-=x"], ["busybox", "echo", "----"],
        // ... and answers this flag anywhere before it with a completion script.
        ["busybox", "echo", "--generate-completion-script"], ["busybox", "--generate-completion-script", "bash"],
        ["-e", "A", "busybox", "x", "--generate-completion-script=zsh"],
        // Characters: "=" with a combining mark is not "=".
        ["--name=\u{301}x", "busybox"],
    ]

    @Test(arguments: refusedByBoth)
    func refusesWhatArgumentParserRefuses(_ arguments: [String]) {
        #expect(RunFastPath.read(arguments[...]) == nil)
        #expect(throws: (any Error).self) { try Run.parse(arguments) }
    }

    /// Lines ArgumentParser takes in an odd way: the reader leaves them to
    /// it rather than copy the oddity.
    static let leftToArgumentParser: [[String]] = [
        ["-e=A=1", "busybox"], ["--detach=", "busybox"], ["-w", "-", "busybox"], ["-e", "-", "busybox"],
        ["-ei", "-", "busybox"], ["-", "busybox"], ["-", "-"], ["--", "--rm", "busybox"], ["--", "-it", "busybox"],
        ["--", "--"], ["--", "-h"], ["--", "--help"],
    ]

    @Test(arguments: leftToArgumentParser)
    func leavesOddFormsToArgumentParser(_ arguments: [String]) throws {
        #expect(RunFastPath.read(arguments[...]) == nil)
        _ = try Run.parse(arguments)
    }

    /// ArgumentParser's own description of `run` (`--experimental-dump-help`).
    struct Definition: Decodable {
        struct Command: Decodable { var arguments: [Argument] }
        struct Argument: Decodable {
            struct Name: Decodable { var kind: String; var name: String }
            var kind: String
            var names: [Name]?
            var isRepeating: Bool
            var parsingStrategy: String
            var valueName: String?
        }
        var command: Command

        static func ofRun() throws -> [Argument] {
            try JSONDecoder().decode(Definition.self, from: Data(Run._dumpHelp().utf8)).command.arguments
        }
    }

    /// Fails when a flag is declared in ContainerFlags or Run that the
    /// fast reader does not know, or knows differently (flag or option,
    /// once or repeatable, its short letter), and the other way round.
    @Test func readerKnowsEveryDeclaredFlag() throws {
        var declared: [RunFlag] = []
        for argument in try Definition.ofRun() where argument.kind != "positional" {
            let names = argument.names ?? []
            if names.contains(where: { $0.name == "help" }) { continue }  // left to ArgumentParser
            let long = try #require(names.first { $0.kind == "long" }, "every flag of run has a long name: \(names)")
            let flag = try #require(RunFlag(long: Substring(long.name)), "RunFastPath does not know --\(long.name)")
            declared.append(flag)
            let arity: RunFlag.Arity = argument.kind == "flag" ? .flag : argument.isRepeating ? .repeatable : .value
            #expect(flag.arity == arity, "--\(long.name)")
            #expect(flag.short.map(String.init) == names.first { $0.kind == "short" }?.name, "--\(long.name)")
            #expect(!names.contains { $0.kind == "longWithSingleDash" }, "--\(long.name)")
            #expect(names.filter { $0.kind == "long" }.count == 1, "--\(long.name) has another long name")
            #expect(argument.kind == "flag" || argument.parsingStrategy == "default", "--\(long.name)")
        }
        #expect(Set(declared) == Set(RunFlag.allCases), "RunFlag has flags run does not declare")
        #expect(declared.count == RunFlag.allCases.count)
        // The positionals the reader assumes: the image, then the command taken whole.
        let positionals = try Definition.ofRun().filter { $0.kind == "positional" }
        #expect(positionals.map(\.valueName) == ["image", "command"])
        #expect(positionals.map(\.isRepeating) == [false, true])
        #expect(positionals.map(\.parsingStrategy) == ["default", "allRemainingInput"])
    }

    /// Every declared flag and option in every spelling the reader takes,
    /// with values of several shapes, generated from ArgumentParser's
    /// definition: the reader gives ArgumentParser's answer or nil, and
    /// takes every well-formed one.
    @Test func everyDeclaredFlagReadsTheSame() throws {
        var checked = 0
        for argument in try Definition.ofRun() where argument.kind != "positional" {
            let names = argument.names ?? []
            if names.contains(where: { $0.name == "help" }) { continue }
            let spellings = names.map { $0.kind == "short" ? "-" + $0.name : "--" + $0.name }
            for spelling in spellings {
                var lines: [[String]]
                if argument.kind == "flag" {
                    lines = [[spelling, "busybox"], [spelling, spelling, "busybox", "x"], ["-i", spelling, "busybox"]]
                    if spelling.hasPrefix("--") { lines.append([spelling + "=", "busybox"]) }
                } else {
                    lines = []
                    // A number, a dash-led value, not a number, empty.
                    for value in ["7", "-1", "1x", ""] {
                        lines.append([spelling, value, "busybox", "sh"])
                        lines.append([spelling, "1", spelling, value, "--rm", "busybox"])
                        if spelling.hasPrefix("--") {
                            lines.append([spelling + "=" + value, "busybox"])
                        } else {
                            lines.append(["-it" + spelling.dropFirst(), value, "busybox"])
                        }
                    }
                }
                for line in lines {
                    let fast = RunFastPath.read(line[...])
                    let parsed = try? Run.parse(line)
                    if let fast {
                        #expect(fast == parsed?.request, "\(line)")
                    } else if let parsed {
                        // The one shape it declines that ArgumentParser takes: `--flag=`.
                        #expect(line.contains { $0.hasSuffix("=") },
                                "the reader declined \(line), which ArgumentParser reads as \(parsed.request)")
                    }
                    checked += 1
                }
            }
        }
        #expect(checked > 250)
    }

    /// ContainerOptions holds exactly what ContainerFlags declares, by name.
    @Test func optionsMirrorContainerFlags() throws {
        let parsed = try Run.parse(["busybox"])
        let declared = Mirror(reflecting: parsed.flags).children.compactMap { $0.label.map { String($0.drop { $0 == "_" }) } }
        let mirrored = Mirror(reflecting: ContainerOptions()).children.compactMap(\.label)
        #expect(declared == mirrored)
    }

    /// One line against the values written out, not only against ArgumentParser.
    @Test func readsFlagsImageAndCommand() {
        let request = RunFastPath.read(["--rm", "-it", "busybox", "sh"])
        #expect(request == RunRequest(options: ContainerOptions(interactive: true, tty: true, autoRemove: true),
                                      image: "busybox", command: ["sh"]))
    }

    /// The RunSpec a request gives, every field (or its error).
    func describeSpec(_ request: RunRequest) -> String {
        do {
            var text = ""
            dump(try request.options.spec(image: request.image, command: request.command), to: &text)
            return text
        } catch {
            return "error \(error.exitCode): \(error.message)"
        }
    }
}
