import Glibc

/// The GNU build ID of the running program (`readelf -n`: NT_GNU_BUILD_ID),
/// as hex; nil when the linker wrote none. It changes whenever the program
/// does, so it can key caches of things computed from the program's own
/// tables (the built-in seccomp profile).
enum BuildID {
    static let ofThisProgram: String? = ofELF("/proc/self/exe")

    /// Reads the ELF file's program headers and searches its PT_NOTE
    /// segments (64-bit little-endian ELF only; nil for anything else).
    static func ofELF(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        func read(_ offset: Int, _ count: Int) -> [UInt8]? {
            guard count > 0, count <= 1 << 20 else { return nil }
            var bytes = [UInt8](repeating: 0, count: count)
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return n == count ? bytes : nil
        }
        // e_ident: "\x7fELF", class 2 (64-bit), data 1 (little-endian).
        guard let header = read(0, 64), header[0..<4] == [0x7F, 0x45, 0x4C, 0x46], header[4] == 2, header[5] == 1
        else { return nil }
        func word<T: FixedWidthInteger>(_ bytes: [UInt8], _ at: Int, _: T.Type) -> Int {
            Int(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: T.self) })
        }
        let phoff = word(header, 32, UInt64.self), phentsize = word(header, 54, UInt16.self)
        let phnum = word(header, 56, UInt16.self)
        guard phentsize >= 56, let table = read(phoff, phentsize * phnum) else { return nil }
        for i in 0..<phnum {
            let at = i * phentsize
            guard word(table, at, UInt32.self) == 4 /* PT_NOTE */ else { continue }
            let offset = word(table, at + 8, UInt64.self), size = word(table, at + 32, UInt64.self)
            if let notes = read(offset, size), let id = notes.withUnsafeBytes({ find(in: $0) }) { return id }
        }
        return nil
    }

    /// The build ID note among ELF notes (namesz, descsz, type, name, desc;
    /// name and desc padded to 4 bytes).
    static func find(in notes: UnsafeRawBufferPointer) -> String? {
        var offset = 0
        func padded(_ n: Int) -> Int { (n + 3) & ~3 }
        while offset + 12 <= notes.count {
            let nameSize = Int(notes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let descSize = Int(notes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
            let type = notes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
            let name = offset + 12
            let desc = name + padded(nameSize)
            guard desc + descSize <= notes.count else { return nil }
            if type == 3, nameSize == 4, Array(notes[name..<name + 4]) == [0x47, 0x4E, 0x55, 0], descSize > 0 {
                let digits = Array("0123456789abcdef".utf8)
                var hex: [UInt8] = []
                for byte in notes[desc..<desc + descSize] {
                    hex.append(digits[Int(byte >> 4)])
                    hex.append(digits[Int(byte & 0x0F)])
                }
                return String(decoding: hex, as: UTF8.self)
            }
            offset = desc + padded(descSize)
        }
        return nil
    }
}
