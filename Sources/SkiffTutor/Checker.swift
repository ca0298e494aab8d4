import Glibc
import SkiffCommon
import SkiffEngine
import SkiffImages
import SkiffKernel

/// Evaluates checks against the live runtime through the Engine API: the
/// container store, the kernel view (/proc, cgroupfs) and the image store.
public struct Checker {
    public let engine: Engine
    public let lang: Language
    /// Template values: the lesson's vars for this learner.
    public let values: [String: String]
    /// What the learner's last command printed (when captured).
    public let lastOutput: String

    public init(engine: Engine, lang: Language, values: [String: String], lastOutput: String = "") {
        self.engine = engine
        self.lang = lang
        self.values = values
        self.lastOutput = lastOutput
    }

    func fill(_ s: String?) -> String { Template.fill(s ?? "", values) }

    public func run(_ checks: [Check]) -> [CheckResult] { checks.map(evaluate) }

    public func evaluate(_ check: Check) -> CheckResult {
        let name = fill(check.container)
        func result(_ passed: Bool, _ what: String, expected: String, actual: String) -> CheckResult {
            CheckResult(check: check, passed: passed, what: what, expected: expected, actual: actual)
        }
        let zh = lang == .zh
        func find() -> Container? { try? engine.container(name) }
        let missing = zh ? "没有名为 \(name) 的容器" : "no container named \(name)"

        switch check.kind {
        case .containerExists:
            let want = check.exists ?? true
            let has = find() != nil
            return result(has == want, zh ? "容器 \(name)" : "container \(name)",
                          expected: want ? (zh ? "存在" : "exists") : (zh ? "不存在" : "does not exist"),
                          actual: has ? (zh ? "存在" : "exists") : (zh ? "不存在" : "does not exist"))

        case .containerStatus:
            let want = fill(check.status)
            guard let c = find() else { return result(false, zh ? "容器 \(name) 的状态" : "status of \(name)", expected: want, actual: missing) }
            return result(c.state.status.rawValue == want, zh ? "容器 \(name) 的状态" : "status of \(name)",
                          expected: want, actual: c.state.status.rawValue)

        case .exitCode:
            let want = fill(check.equals)
            let what = zh ? "容器 \(name) 的退出码" : "exit code of \(name)"
            guard let c = find() else { return result(false, what, expected: want, actual: missing) }
            guard c.state.status == .exited else {
                return result(false, what, expected: want, actual: zh ? "还没有退出(\(c.state.status.rawValue))" : "not exited yet (\(c.state.status.rawValue))")
            }
            return result(String(c.state.exitCode) == want, what, expected: want, actual: String(c.state.exitCode))

        case .namespace:
            let type = fill(check.type)
            let want = check.shared ?? false
            let what = zh ? "容器 \(name) 的 \(type) 命名空间" : "\(type) namespace of \(name)"
            let wantText = want ? (zh ? "与宿主机共享" : "shared with the host") : (zh ? "自己独有" : "its own")
            guard let c = find() else { return result(false, what, expected: wantText, actual: missing) }
            guard c.isRunning else { return result(false, what, expected: wantText, actual: zh ? "容器没有在运行,命名空间已不存在" : "not running: its namespaces are gone") }
            let view = engine.kernelView(c)
            guard let ns = view.Namespaces.first(where: { $0.Type == type }) else {
                return result(false, what, expected: wantText, actual: zh ? "读不到" : "cannot be read")
            }
            let actual = (ns.Shared ? (zh ? "与宿主机共享" : "shared with the host") : (zh ? "自己独有" : "its own"))
                + " (\(ns.Container), host \(ns.Host))"
            return result(ns.Shared == want, what, expected: wantText, actual: actual)

        case .cgroupLimit:
            let resource = fill(check.resource)
            let wantText = fill(check.equals)
            let what = zh ? "容器 \(name) 的 cgroup \(resource) 限制" : "\(resource) cgroup limit of \(name)"
            guard let c = find() else { return result(false, what, expected: wantText, actual: missing) }
            guard c.isRunning else { return result(false, what, expected: wantText, actual: zh ? "容器没有在运行,cgroup 已删除" : "not running: its cgroups are gone") }
            let files = engine.kernelView(c).Cgroups.Files
            func value(_ names: [String]) -> String? {
                files.first { f in names.contains { f.path.hasSuffix("/" + $0) } }?.value
            }
            switch resource {
            case "memory":
                let want = (try? ResourceLimits.parseMemory(wantText)) ?? -1
                guard let v = value(["memory.limit_in_bytes", "memory.max"]) else {
                    return result(false, what, expected: wantText, actual: zh ? "没有内存限制文件" : "no memory limit file")
                }
                let actual = Int64(v).map { "\(v) (\(Time.bytes($0)))" } ?? v
                return result(Int64(v) == want, what, expected: "\(want) (\(Time.bytes(max(want, 0))))", actual: actual)
            case "pids":
                let v = value(["pids.max"]) ?? "?"
                return result(v == wantText, what, expected: wantText, actual: v)
            default: // cpus
                var actual = "?"
                if let quota = value(["cpu.cfs_quota_us"]), let period = value(["cpu.cfs_period_us"]),
                   let q = Double(quota), let p = Double(period), p > 0 {
                    actual = q < 0 ? "max" : String(q / p)
                } else if let max = value(["cpu.max"]) {
                    let parts = max.split(separator: " ")
                    if parts.count == 2, let q = Double(parts[0]), let p = Double(parts[1]), p > 0 { actual = String(q / p) }
                    else { actual = String(parts.first ?? "max") }
                }
                let equal = Double(actual).flatMap { a in Double(wantText).map { abs(a - $0) < 0.001 } } ?? (actual == wantText)
                return result(equal, what, expected: wantText, actual: actual)
            }

        case .file:
            let path = fill(check.path)
            let what = zh ? "容器 \(name) 里的 \(path)" : "\(path) in \(name)"
            if check.exists == false {
                let there = find().flatMap { Self.readFile(in: $0, path: path) } != nil
                return result(!there, what, expected: zh ? "不存在" : "does not exist", actual: there ? (zh ? "存在" : "exists") : (zh ? "不存在" : "does not exist"))
            }
            guard let c = find() else { return result(false, what, expected: expectation(check), actual: missing) }
            guard let text = Self.readFile(in: c, path: path) else {
                return result(false, what, expected: expectation(check), actual: zh ? "没有这个文件" : "no such file")
            }
            return match(check, text, what)

        case .upperChange:
            let path = fill(check.path)
            let want = fill(check.change)
            let what = zh ? "容器 \(name) 上层目录里的 \(path)" : "\(path) in the upper dir of \(name)"
            guard let c = find() else { return result(false, what, expected: want, actual: missing) }
            let found = (try? engine.diff(c.id))?.first { $0.path == path }
            return result(found?.kind.rawValue == want, what, expected: want,
                          actual: found?.kind.rawValue ?? (zh ? "不在上层目录里(没有改动)" : "not in its upper dir (unchanged)"))

        case .imageLayers:
            let image = fill(check.image)
            let want = fill(check.equals)
            let what = zh ? "镜像 \(image) 的层数" : "layers of image \(image)"
            guard let found = (try? engine.images.resolve(image)) ?? nil else {
                return result(false, what, expected: want, actual: zh ? "没有这个镜像" : "no such image")
            }
            return result(String(found.manifest.layers.count) == want, what, expected: want, actual: String(found.manifest.layers.count))

        case .imageConfig:
            let image = fill(check.image)
            let field = fill(check.field)
            let what = zh ? "镜像 \(image) 配置里的 \(field)" : "\(field) in the config of image \(image)"
            guard let found = (try? engine.images.resolve(image)) ?? nil else {
                return result(false, what, expected: expectation(check), actual: zh ? "没有这个镜像" : "no such image")
            }
            return match(check, Self.configField(found.config.config, field), what)

        case .imageFile:
            let image = fill(check.image)
            let path = fill(check.path)
            let what = zh ? "镜像 \(image) 里的 \(path)" : "\(path) in image \(image)"
            let found = (try? engine.images.resolve(image)) ?? nil
            let text = found.flatMap { try? engine.images.layerDirectories(for: $0) }.flatMap { Self.readTopmost(path, in: $0.reversed()) }
            if check.exists == false {
                let there = text != nil
                return result(!there, what, expected: zh ? "不存在" : "does not exist", actual: there ? (zh ? "存在" : "exists") : (zh ? "不存在" : "does not exist"))
            }
            guard found != nil else { return result(false, what, expected: expectation(check), actual: zh ? "没有这个镜像" : "no such image") }
            guard let text else { return result(false, what, expected: expectation(check), actual: zh ? "没有这个文件" : "no such file") }
            return match(check, text, what)

        case .output:
            if let exec = check.exec {
                let command = exec.map(fill)
                let what = zh ? "在 \(name) 里运行 `\(command.joined(separator: " "))` 的输出" : "output of `\(command.joined(separator: " "))` in \(name)"
                guard let c = find() else { return result(false, what, expected: expectation(check), actual: missing) }
                guard c.isRunning else { return result(false, what, expected: expectation(check), actual: zh ? "容器没有在运行" : "not running") }
                switch Self.capture(engine: engine, container: c.id, command: command) {
                case .success(let text): return match(check, text, what)
                case .failure(let error): return result(false, what, expected: expectation(check), actual: error.message)
                }
            }
            return match(check, lastOutput, zh ? "你上一条命令的输出" : "the output of your last command")

        case .containerCount:
            let image = check.image.map(fill)
            let status = check.status.map(fill)
            var all = engine.list(all: true)
            if let image { all = all.filter { CommandForm.sameImage($0.config.image, image) } }
            if let status { all = all.filter { $0.state.status.rawValue == status } }
            var what = zh ? "容器数量" : "number of containers"
            if let image { what += zh ? "(镜像 \(image))" : " of image \(image)" }
            if let status { what += zh ? "(状态 \(status))" : " that are \(status)" }
            if let want = check.equals.map(fill) {
                return result(String(all.count) == want, what, expected: want, actual: String(all.count))
            }
            let min = check.min ?? 0
            return result(all.count >= min, what, expected: zh ? "至少 \(min)" : "at least \(min)", actual: String(all.count))
        }
    }

    func expectation(_ check: Check) -> String {
        let zh = lang == .zh
        if let e = check.equals { return zh ? "等于 \"\(fill(e))\"" : "equal to \"\(fill(e))\"" }
        if let c = check.contains { return zh ? "包含 \"\(fill(c))\"" : "containing \"\(fill(c))\"" }
        return zh ? "匹配 /\(fill(check.pattern))/" : "matching /\(fill(check.pattern))/"
    }

    func match(_ check: Check, _ text: String, _ what: String) -> CheckResult {
        let trimmed = text.trimmingCharacters(in: " \t")
        var passed = false
        if let e = check.equals { passed = trimmed == fill(e) }
        else if let c = check.contains { passed = text.contains(fill(c)) }
        else if let p = check.pattern, let regex = try? Regex(fill(p)) { passed = (try? regex.firstMatch(in: text)) != nil }
        let shown = trimmed.count > 200 ? String(trimmed.prefix(200)) + "…" : trimmed
        return CheckResult(check: check, passed: passed, what: what, expected: expectation(check),
                           actual: shown.isEmpty ? (lang == .zh ? "(空)" : "(empty)") : "\"\(shown)\"")
    }

    /// A file as the container sees it: through /proc/PID/root while it
    /// runs, else from its upper dir, then the image layers top down.
    static func readFile(in c: Container, path: String) -> String? {
        guard path.hasPrefix("/"), !path.split(separator: "/").contains("..") else { return nil }
        // While it runs, its own root is the whole truth.
        if c.isRunning { return try? Files.readString("/proc/\(c.state.pid)/root" + path) }
        var candidates: [String] = []
        // /etc/hostname, hosts and resolv.conf are bind-mounted from the
        // container's directory; the upper dir holds only empty mount points.
        if ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"].contains(path) {
            candidates.append(c.directory + "/" + path.dropFirst(5))
        }
        candidates.append(c.upperDir + path)
        candidates += c.config.lowerDirs.reversed().map { $0 + path }
        return readFirst(candidates)
    }

    /// `path` as overlayfs would show it from layer directories given top first.
    static func readTopmost(_ path: String, in directories: [String]) -> String? {
        guard path.hasPrefix("/"), !path.split(separator: "/").contains("..") else { return nil }
        return readFirst(directories.map { $0 + path })
    }

    /// The first of `files` that exists, unless a whiteout comes first.
    static func readFirst(_ files: [String]) -> String? {
        for file in files {
            var st = stat()
            guard lstat(file, &st) == 0 else { continue }
            // A whiteout (0/0 character device) hides the file of the layers below.
            if st.st_mode & S_IFMT == S_IFCHR && st.st_rdev == 0 { return nil }
            if let text = try? Files.readString(file) { return text }
        }
        return nil
    }

    /// An image config field as text: arrays as compact JSON (`["/start.sh"]`,
    /// as `image inspect` writes them), sets (ports, volumes) as their sorted
    /// keys one per line, Env and Labels one `K=V` per line; absent is empty.
    static func configField(_ config: ImageConfig.ContainerConfig?, _ field: String) -> String {
        func json(_ list: [String]?) -> String {
            guard let list else { return "" }
            let quoted = list.map { item in
                let escaped: [Character] = item.flatMap { c -> [Character] in c == "\"" || c == "\\" ? ["\\", c] : [c] }
                return "\"" + String(escaped) + "\""
            }
            return "[" + quoted.joined(separator: ",") + "]"
        }
        switch field {
        case "Cmd": return json(config?.cmd)
        case "Entrypoint": return json(config?.entrypoint)
        case "ExposedPorts": return (config?.exposedPorts?.keys.sorted() ?? []).joined(separator: "\n")
        case "Volumes": return (config?.volumes?.keys.sorted() ?? []).joined(separator: "\n")
        case "Env": return (config?.env ?? []).joined(separator: "\n")
        case "Labels": return (config?.labels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
        case "WorkingDir": return config?.workingDir ?? ""
        case "User": return config?.user ?? ""
        case "StopSignal": return config?.stopSignal ?? ""
        default: return ""
        }
    }

    /// Runs a command inside a running container and returns what it printed.
    static func capture(engine: Engine, container: String, command: [String]) -> Result<String, SkiffError> {
        var template = Array("/tmp/skiff-check-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { return .failure(SkiffError.system("create a temporary file")) }
        let path = String(cString: template)
        defer { close(fd); unlink(path) }
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { if null >= 0 { close(null) } }
        do {
            _ = try engine.exec(container, ExecSpec(command: command), io: AttachIO(stdin: null, stdout: fd, stderr: fd))
        } catch {
            return .failure(error)
        }
        return .success((try? Files.readString(path)) ?? "")
    }
}

extension CommandForm {
    /// busybox, busybox:latest and docker.io/library/busybox:latest are one image.
    static func sameImage(_ a: String, _ b: String) -> Bool {
        func norm(_ s: String) -> String {
            var s = s
            for prefix in ["docker.io/library/", "docker.io/", "library/"] where s.hasPrefix(prefix) { s = String(s.dropFirst(prefix.count)) }
            if !s.contains(":") && !s.contains("@") { s += ":latest" }
            return s
        }
        return norm(a) == norm(b)
    }
}
