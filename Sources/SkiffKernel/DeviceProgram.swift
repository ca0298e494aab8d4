#if canImport(Glibc)
import Glibc
#endif
import CShim
import SkiffCommon

/// cgroup v2 has no devices.allow: the kernel asks a BPF program
/// (BPF_PROG_TYPE_CGROUP_DEVICE) attached to the cgroup, once per device
/// access, with a context of three 32-bit words: access_type (the access
/// bits mknod=1, read=2, write=4 shifted left 16, over the device type
/// block=1, char=2), major, minor. The program returns 1 to allow, 0 to
/// refuse (EPERM). This one is assembled by hand from `DeviceRules`: one
/// block of tests per rule, falling through to the next on a mismatch.
public enum DeviceProgram {
    public struct Rule: Equatable, Sendable {
        /// 1 block, 2 char, nil for both ("a").
        public var type: Int32?
        public var major: Int32?
        public var minor: Int32?
        /// mknod 1, read 2, write 4.
        public var access: Int32
    }

    /// "c 136:* rwm" → Rule(type: 2, major: 136, minor: nil, access: 7).
    public static func parse(_ text: String) throws(SkiffError) -> Rule {
        let bad = SkiffError(.invalidData, "device rule \"\(text)\" is not TYPE MAJOR:MINOR ACCESS")
        let fields = text.split(separator: " ")
        guard fields.count == 3 else { throw bad }
        let type: Int32?
        switch fields[0] {
        case "a": type = nil
        case "b": type = 1
        case "c": type = 2
        default: throw bad
        }
        let numbers = fields[1].split(separator: ":", omittingEmptySubsequences: false)
        guard numbers.count == 2 else { throw bad }
        func number(_ s: Substring) throws(SkiffError) -> Int32? {
            if s == "*" { return nil }
            guard let n = Int32(s), n >= 0 else { throw bad }
            return n
        }
        var access: Int32 = 0
        for c in fields[2] {
            switch c {
            case "m": access |= 1
            case "r": access |= 2
            case "w": access |= 4
            default: throw bad
            }
        }
        return Rule(type: type, major: try number(numbers[0]), minor: try number(numbers[1]), access: access)
    }

    /// The program's instructions (8 bytes each: opcode, registers, offset, immediate).
    public static func assemble(_ rules: [Rule]) -> [UInt8] {
        var out: [UInt8] = []
        func insn(_ code: UInt8, dst: UInt8 = 0, src: UInt8 = 0, off: Int16 = 0, imm: Int32 = 0) {
            out.append(code)
            out.append(dst | (src << 4))
            withUnsafeBytes(of: off.littleEndian) { out += $0 }
            withUnsafeBytes(of: imm.littleEndian) { out += $0 }
        }
        let loadWord: UInt8 = 0x61, andImm: UInt8 = 0x57, shiftRightImm: UInt8 = 0x77
        let moveReg: UInt8 = 0xbf, moveImm: UInt8 = 0xb7, jumpIfNotEqualImm: UInt8 = 0x55, exit: UInt8 = 0x95
        // r2 = type, r3 = access, r4 = major, r5 = minor (r1 is the context).
        insn(loadWord, dst: 2, src: 1, off: 0)
        insn(andImm, dst: 2, imm: 0xffff)
        insn(loadWord, dst: 3, src: 1, off: 0)
        insn(shiftRightImm, dst: 3, imm: 16)
        insn(loadWord, dst: 4, src: 1, off: 4)
        insn(loadWord, dst: 5, src: 1, off: 8)
        for rule in rules {
            // Each test jumps over the rest of this block when it fails.
            var tests: [(UInt8, UInt8, UInt8, Int32)] = [] // (code, dst, src, imm) before the jump
            var jumps: [(dst: UInt8, imm: Int32)] = []
            if let type = rule.type { jumps.append((2, type)) }
            if let major = rule.major { jumps.append((4, major)) }
            if let minor = rule.minor { jumps.append((5, minor)) }
            // Access: every bit asked for must be in the rule: (access & ~allowed) == 0.
            tests.append((moveReg, 0, 3, 0))
            tests.append((andImm, 0, 0, ~rule.access & 7))
            let blockLength = jumps.count + tests.count + 1 + 2 // + access jump + allow (mov, exit)
            var emitted = 0
            for jump in jumps {
                emitted += 1
                insn(jumpIfNotEqualImm, dst: jump.dst, off: Int16(blockLength - emitted), imm: jump.imm)
            }
            for test in tests {
                emitted += 1
                insn(test.0, dst: test.1, src: test.2, imm: test.3)
            }
            emitted += 1
            insn(jumpIfNotEqualImm, dst: 0, off: Int16(blockLength - emitted), imm: 0)
            insn(moveImm, dst: 0, imm: 1)
            insn(exit)
        }
        insn(moveImm, dst: 0, imm: 0)
        insn(exit)
        return out
    }

    /// Attaches the allow-list to a cgroup v2 directory.
    public static func attach(to directory: String, rules: [String]) throws(SkiffError) {
        var parsed: [Rule] = []
        for text in rules { parsed.append(try parse(text)) }
        let program = assemble(parsed)
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SkiffError.system("open \(directory)") }
        defer { close(fd) }
        let rc = program.withUnsafeBytes { skiff_attach_device_program(fd, $0.baseAddress, UInt32($0.count / 8)) }
        if rc != 0 { throw SkiffError.system("attach the device allow-list (BPF) to \(directory)") }
    }
}
