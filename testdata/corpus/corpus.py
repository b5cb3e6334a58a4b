#!/usr/bin/env python3
"""Small helpers for testdata/corpus/make.sh (no third-party modules).

  corpus.py elfsize FILE            true size of an ELF64 core (end of last segment)
  corpus.py vmcoreinfo FILE OUT     write the VMCOREINFO note's desc bytes verbatim
  corpus.py calltrace DMESG OUT     cut the first call trace block of a kernel log
  corpus.py hmp SOCKET CMD...       run HMP commands on a QEMU unix-socket monitor
"""
import socket
import struct
import sys
import time


def read_elf_headers(path):
    with open(path, "rb") as f:
        eh = f.read(64)
        if len(eh) < 64 or eh[:4] != b"\x7fELF":
            raise SystemExit(f"{path}: not an ELF file (no capture on disk?)")
        if eh[4] != 2 or eh[5] != 1:
            raise SystemExit(f"{path}: not a little-endian ELF64 file")
        (e_phoff,) = struct.unpack_from("<Q", eh, 32)
        e_phentsize, e_phnum = struct.unpack_from("<HH", eh, 54)
        f.seek(e_phoff)
        raw = f.read(e_phentsize * e_phnum)
    phdrs = []
    for i in range(e_phnum):
        p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align = \
            struct.unpack_from("<IIQQQQQQ", raw, i * e_phentsize)
        phdrs.append((p_type, p_offset, p_filesz))
    return e_phoff, e_phentsize, e_phnum, phdrs


def elfsize(path):
    e_phoff, e_phentsize, e_phnum, phdrs = read_elf_headers(path)
    end = e_phoff + e_phentsize * e_phnum
    for _, off, filesz in phdrs:
        end = max(end, off + filesz)
    print(end)


def notes(path):
    _, _, _, phdrs = read_elf_headers(path)
    with open(path, "rb") as f:
        for p_type, off, filesz in phdrs:
            if p_type != 4:  # PT_NOTE
                continue
            f.seek(off)
            data = f.read(filesz)
            pos = 0
            while pos + 12 <= len(data):
                namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
                pos += 12
                name = data[pos:pos + namesz]
                pos += (namesz + 3) & ~3
                desc = data[pos:pos + descsz]
                pos += (descsz + 3) & ~3
                if namesz == 0 and descsz == 0:
                    break
                yield name.rstrip(b"\0"), ntype, desc


def vmcoreinfo(path, out):
    for name, _, desc in notes(path):
        if name == b"VMCOREINFO":
            with open(out, "wb") as f:
                f.write(desc.rstrip(b"\0"))
            return
    raise SystemExit(f"{path}: no VMCOREINFO note")


def calltrace(dmesg, out):
    """The first call trace block: x86 "Call Trace:" .. "</TASK>"; arm64 "Call trace:"
    and the indented frame lines after it."""
    lines = open(dmesg, encoding="utf-8", errors="replace").read().splitlines(True)
    block = []
    for i, line in enumerate(lines):
        if "Call Trace:" in line or "Call trace:" in line:
            end = next((j for j in range(i + 1, len(lines)) if "</TASK>" in lines[j]), None)
            if end is not None:
                block = lines[i:end + 1]
                break
            block.append(line)
            for l2 in lines[i + 1:]:
                text = l2.split("] ", 1)[1] if l2.startswith("[") and "] " in l2 else l2
                if not text.startswith(" "):
                    break
                block.append(l2)
            break
    with open(out, "w", encoding="utf-8") as f:
        if block:
            f.writelines(block)
        else:
            f.write("# no call trace block in the kernel log of this dump\n")


def hmp(sockpath, cmds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sockpath)
    s.settimeout(900)

    def until_prompt():
        buf = b""
        while not buf.endswith(b"(qemu) "):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf.decode("utf-8", "replace")

    until_prompt()
    for c in cmds:
        s.sendall(c.encode() + b"\n")
        if c.strip() in ("quit", "q"):
            time.sleep(0.5)
            break
        out = until_prompt()
        # HMP echoes the command line (with terminal escapes): print only
        # what follows the echoed line, i.e. the command's own output.
        out = out.split("\n", 1)[1] if "\n" in out else ""
        out = out[: -len("(qemu) ")] if out.endswith("(qemu) ") else out
        if out.strip():
            print(out.strip())
    s.close()


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd = argv[1]
    if cmd == "elfsize":
        elfsize(argv[2])
    elif cmd == "vmcoreinfo":
        vmcoreinfo(argv[2], argv[3])
    elif cmd == "calltrace":
        calltrace(argv[2], argv[3])
    elif cmd == "hmp":
        hmp(argv[2], argv[3:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
