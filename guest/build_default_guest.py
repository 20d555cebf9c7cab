#!/usr/bin/env python3
"""Builds vessel's default Linux guest from Debian packages only.

Outputs (in OUTDIR):
  vmlinuz             Debian's bzImage (64-bit boot protocol)
  vmlinux             the ELF kernel extracted from it (PVH entry, XEN_ELFNOTE_PHYS32_ENTRY)
  initramfs.cpio      static busybox, the virtio modules with their dependencies, /init
  manifest.json       kernel version, module list, input hash

The build is cached by content: a hash of every input (kernel, modules, busybox, /init, this
script) is kept in manifest.json, and nothing is rebuilt while it matches.
"""
import argparse
import gzip
import hashlib
import io
import json
import lzma
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile

# Drivers the guest needs: both virtio transports and the common devices.
WANTED_MODULES = [
    "virtio_mmio", "virtio_pci", "virtio_blk", "virtio_net", "virtio_rng",
    "vmw_vsock_virtio_transport", "virtio_balloon", "virtio_console", "ext4",
    "crc32c_generic",  # ext4 with metadata_csum (mkfs.ext4's default) asks the crypto API for it at mount
    "ib700wdt",  # vessel-vmm's watchdog (docs/vmm/watchdog.md), loaded when vessel.watchdog is given
]


# The kernel command line the default guest is booted with (manifest.json "boot_args", and the
# `cmdline` file for shell scripts); the command for /init goes after " -- ". Besides the console,
# the flags cut the ring-0 work of a boot, which a PVM host emulates instruction by instruction
# (docs/vmm/pvm.md has the profile behind each): no zeroing of every allocated page, no crypto
# self-tests, no speculation-mitigation thunks on every return, no PCI probing, no watchdog, and
# no scan of every ftrace call site through kallsyms for weak functions (a kallsyms lookup per
# site: minutes when emulated, and it holds a CPU that stop_machine() waits for). i8042.noaux:
# vessel-vmm's PS/2 controller has a keyboard (Ctrl+Alt+Del comes through it) and no mouse port.
BOOT_ARGS = ("console=ttyS0 reboot=k panic=-1 pci=off nowatchdog init_on_alloc=0 cryptomgr.notests "
             "mitigations=off initcall_blacklist=ftrace_check_for_weak_functions i8042.noaux")


# Loaded by /init at every boot: the transport and the devices vessel-vmm provides. The others
# in the initramfs are loaded on request (vessel.modules=ext4,vsock or vessel.modules=all): each
# module load is tens of seconds of emulated ring-0 work on a PVM host.
CORE_MODULES = ["virtio_mmio", "virtio_blk", "virtio_rng"]


def log(msg):
    print(f"build-default-guest: {msg}", file=sys.stderr)


def newest_kernel_version():
    versions = [v for v in os.listdir("/lib/modules") if os.path.exists(f"/boot/vmlinuz-{v}")]
    if not versions:
        sys.exit("build-default-guest: no kernel in /boot: install linux-image-amd64 "
                 "(scripts/setup.sh does)")

    def key(v):
        return [int(p) if p.isdigit() else p for p in v.replace("-", ".").split(".")]

    return sorted(versions, key=key)[-1]


def normalise(name):
    return name.replace("-", "_")


def resolve_modules(kver, wanted):
    """Returns module paths (relative to /lib/modules/KVER) in load order, dependencies first."""
    base = f"/lib/modules/{kver}"
    deps = {}
    by_name = {}
    with open(f"{base}/modules.dep") as f:
        for line in f:
            path, _, rest = line.partition(":")
            deps[path] = rest.split()
            name = normalise(os.path.basename(path).split(".ko")[0])
            by_name[name] = path
    builtin = set()
    if os.path.exists(f"{base}/modules.builtin"):
        with open(f"{base}/modules.builtin") as f:
            for line in f:
                builtin.add(normalise(os.path.basename(line.strip()).split(".ko")[0]))
    order = []
    seen = set()

    def visit(path):
        if path in seen:
            return
        seen.add(path)
        # modules.dep lists the full transitive closure; visit each so that order is topological.
        for d in deps.get(path, []):
            visit(d)
        order.append(path)

    for name in wanted:
        n = normalise(name)
        if n in builtin:
            continue
        if n not in by_name:
            sys.exit(f"build-default-guest: module {name} is neither built into kernel {kver} "
                     "nor in modules.dep")
        visit(by_name[n])
    return order


def extract_vmlinux(bzimage):
    """Finds the compressed kernel inside a bzImage through the boot protocol header."""
    if len(bzimage) < 0x250 or bzimage[0x202:0x206] != b"HdrS":
        raise ValueError("not a bzImage (no HdrS signature at 0x202)")
    setup_sects = bzimage[0x1F1] or 4
    payload_offset, payload_length = struct.unpack_from("<II", bzimage, 0x248)
    start = (setup_sects + 1) * 512 + payload_offset
    payload = bzimage[start:start + payload_length]
    if payload.startswith(b"\xfd7zXZ\x00"):
        # The kernel's xz stream is followed by the 4-byte size; decompress the first stream only.
        out = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    elif payload.startswith(b"\x1f\x8b"):
        out = gzip.GzipFile(fileobj=io.BytesIO(payload)).read()
    elif payload.startswith(b"\x28\xb5\x2f\xfd"):
        out = subprocess.run(["zstd", "-dc"], input=payload, stdout=subprocess.PIPE,
                             check=True).stdout
    else:
        raise ValueError(f"unknown kernel compression (magic {payload[:6].hex()})")
    if not out.startswith(b"\x7fELF"):
        raise ValueError("decompressed kernel is not an ELF file")
    return out


def has_pvh_note(elf):
    """True when the ELF has a Xen note of type 18 (XEN_ELFNOTE_PHYS32_ENTRY)."""
    e_phoff, = struct.unpack_from("<Q", elf, 0x20)
    e_phentsize, e_phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(e_phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", elf,
                                                                  e_phoff + i * e_phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        off, end = p_offset, p_offset + p_filesz
        while off + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, off)
            name = elf[off + 12:off + 12 + namesz].rstrip(b"\x00")
            if name == b"Xen" and ntype == 18:
                return True
            off += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
    return False


def read_module(path):
    data = open(path, "rb").read()
    if path.endswith(".xz"):
        data = lzma.decompress(data)
    elif path.endswith(".zst"):
        data = subprocess.run(["zstd", "-dc", path], stdout=subprocess.PIPE, check=True).stdout
    elif path.endswith(".gz"):
        data = gzip.decompress(data)
    return strip_signature(data)


MODULE_SIG_MARKER = b"~Module signature appended~\n"


def strip_signature(data):
    """Drops the appended module signature. The kernel (MODULE_SIG without FORCE) loads unsigned
    modules; verifying a signature means hashing the whole module and an RSA check in ring 0,
    which a PVM host emulates instruction by instruction."""
    if not data.endswith(MODULE_SIG_MARKER):
        return data
    # struct module_signature (12 bytes) precedes the marker; sig_len is its last, big-endian field.
    info_end = len(data) - len(MODULE_SIG_MARKER)
    sig_len = struct.unpack(">I", data[info_end - 4:info_end])[0]
    end = info_end - 12 - sig_len
    if end <= 0:
        raise ValueError("malformed module signature trailer")
    return data[:end]


def sha256_file(h, path):
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)


def make_cpio(root, out_path):
    """newc cpio of `root`, sorted and with fixed timestamps so identical inputs give identical bytes."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            entries.append(os.path.relpath(os.path.join(dirpath, name), root))
    listing = "\n".join(sorted(entries)) + "\n"
    cpio = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0", "--reproducible"],
                          input=listing.encode(), cwd=root, stdout=subprocess.PIPE, check=True).stdout
    # Uncompressed on purpose: inflating in the guest kernel is pure ring-0 work (slow on PVM hosts,
    # where it is emulated) while reading a few more MiB from the host page cache costs nothing.
    with open(out_path, "wb") as f:
        f.write(cpio)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--kernel-version", help="default: the newest kernel in /boot")
    ap.add_argument("--force", action="store_true", help="rebuild even when the inputs match")
    ap.add_argument("--agent", help="vessel-agent (static) to put at /bin/vessel-agent")
    args = ap.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    kver = args.kernel_version or newest_kernel_version()
    kernel = f"/boot/vmlinuz-{kver}"
    busybox = "/bin/busybox"
    if not os.path.exists(busybox) or not is_static(busybox):
        sys.exit("build-default-guest: /bin/busybox is missing or not static: install busybox-static")
    modules = resolve_modules(kver, WANTED_MODULES)
    core = {os.path.basename(m).split(".ko")[0] + ".ko" for m in resolve_modules(kver, CORE_MODULES)}

    h = hashlib.sha256()
    agent = os.path.abspath(args.agent) if args.agent else None
    if agent and not is_static(agent):
        sys.exit(f"build-default-guest: {agent} is not a static program")
    for path in [kernel, busybox, os.path.join(here, "init.sh"), os.path.abspath(__file__)] + [
            f"/lib/modules/{kver}/{m}" for m in modules] + ([agent] if agent else []):
        h.update(path.encode())
        sha256_file(h, path)
    digest = h.hexdigest()

    os.makedirs(args.outdir, exist_ok=True)
    manifest_path = os.path.join(args.outdir, "manifest.json")
    outputs = ["vmlinuz", "vmlinux", "initramfs.cpio", "cmdline"]
    if not args.force and os.path.exists(manifest_path):
        try:
            old = json.load(open(manifest_path))
            if old.get("inputs_sha256") == digest and all(
                    os.path.exists(os.path.join(args.outdir, o)) for o in outputs):
                log(f"up to date ({args.outdir}, kernel {kver})")
                return
        except (OSError, ValueError):
            pass

    log(f"building from kernel {kver}, {len(modules)} modules, static busybox")
    shutil.copyfile(kernel, os.path.join(args.outdir, "vmlinuz"))
    vmlinux = extract_vmlinux(open(kernel, "rb").read())
    if not has_pvh_note(vmlinux):
        log("warning: the extracted vmlinux has no PVH entry note; boot it as bzImage")
    with open(os.path.join(args.outdir, "vmlinux.tmp"), "wb") as f:
        f.write(vmlinux)
    os.replace(os.path.join(args.outdir, "vmlinux.tmp"), os.path.join(args.outdir, "vmlinux"))

    with tempfile.TemporaryDirectory() as root:
        for d in ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "run",
                  "root", "lib/modules"]:
            os.makedirs(os.path.join(root, d), exist_ok=True)
        shutil.copyfile(busybox, os.path.join(root, "bin/busybox"))
        os.chmod(os.path.join(root, "bin/busybox"), 0o755)
        applets = subprocess.run([busybox, "--list-full"], stdout=subprocess.PIPE, text=True,
                                 check=True).stdout.split()
        for applet in applets:
            link = os.path.join(root, applet)
            if not os.path.lexists(link):
                os.makedirs(os.path.dirname(link), exist_ok=True)
                os.symlink("/bin/busybox", link)
        if agent:  # started by /init when the VM has a vsock device (docs/vmm/agent.md)
            shutil.copyfile(agent, os.path.join(root, "bin/vessel-agent"))
            os.chmod(os.path.join(root, "bin/vessel-agent"), 0o755)
        shutil.copyfile(os.path.join(here, "init.sh"), os.path.join(root, "init"))
        os.chmod(os.path.join(root, "init"), 0o755)
        names = []
        for m in modules:
            name = os.path.basename(m).split(".ko")[0] + ".ko"
            with open(os.path.join(root, "lib/modules", name), "wb") as f:
                f.write(read_module(f"/lib/modules/{kver}/{m}"))
            names.append(name)
        with open(os.path.join(root, "etc/modules.deps"), "w") as f:
            # "<module> <itself and its dependencies>", for vessel.modules=<module>
            for w in WANTED_MODULES:
                closure = [os.path.basename(m).split(".ko")[0] for m in resolve_modules(kver, [w])]
                f.write(normalise(w) + " " + " ".join(closure) + "\n")
        with open(os.path.join(root, "etc/modules.core"), "w") as f:
            f.write("\n".join(n for n in names if n in core) + "\n")
        with open(os.path.join(root, "etc/modules.order"), "w") as f:
            f.write("\n".join(names) + "\n")
        with open(os.path.join(root, "etc/passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\n")
        with open(os.path.join(root, "etc/group"), "w") as f:
            f.write("root:x:0:\n")
        tmp = os.path.join(args.outdir, "initramfs.cpio.tmp")
        make_cpio(root, tmp)
        os.replace(tmp, os.path.join(args.outdir, "initramfs.cpio"))

    with open(os.path.join(args.outdir, "cmdline"), "w") as f:
        f.write(BOOT_ARGS + "\n")
    manifest = {
        "kernel_version": kver,
        "modules": names,
        "pvh_entry": has_pvh_note(vmlinux),
        "agent": bool(agent),
        "boot_args": BOOT_ARGS,
        "inputs_sha256": digest,
        "outputs": {o: os.path.getsize(os.path.join(args.outdir, o)) for o in outputs},
    }
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
    log(f"done: {args.outdir}")


def is_static(path):
    out = subprocess.run(["ldd", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    return "not a dynamic executable" in out


if __name__ == "__main__":
    main()
