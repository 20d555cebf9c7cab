#!/usr/bin/env python3
"""Writes the seed corpus of daemon_backup_fuzz: tiny backups, each prefixed with the byte that
picks the target (0: a whole archive, 1: a manifest alone). Run from this folder."""
import hashlib
import io
import json
import tarfile


def tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, kind, data, link in entries:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mode, info.mtime = kind, link, 0o600, 1700000000
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            t.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    raw = buf.getvalue()
    end = len(raw.rstrip(b"\0"))
    return raw[: ((end + 511) // 512 + 2) * 512]


def manifest(files, **extra):
    m = {"format": "vessel-backup", "version": 1, "name": "web", "type": "container", "state": "stopped",
         "spec": {"name": "web", "type": "container", "image": "busybox"}, "image": "busybox",
         "image_digest": "sha256:" + "a" * 64, "with_state": False, "created_at": 1700000000,
         "files": [{"name": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest(), **x} for n, d, x in files]}
    m.update(extra)
    # manifest_sha256: over the manifest without it, dumped compactly with sorted keys (nlohmann's dump)
    m["manifest_sha256"] = hashlib.sha256(json.dumps(m, sort_keys=True, separators=(",", ":"),
                                                     ensure_ascii=False).encode()).hexdigest()
    return json.dumps(m).encode()


def reg(name, data):
    return (name, tarfile.REGTYPE, data, "")


diff = b"changes"
disk, layer = b"QFI\xfb top", b"QFI\xfb layer"
vm_files = [("disks/image-0.qcow2", disk, {"backing_file": "disks/layers/l0.qcow2"}),
            ("disks/layers/l0.qcow2", layer, {"backing_base": 0})]
seeds = {
    "container": b"\0" + tar([reg("manifest.json", manifest([("rootfs-diff.tar", diff, {})])),
                              reg("rootfs-diff.tar", diff)]),
    "vm_chain": b"\0" + tar([reg("manifest.json", manifest(vm_files, type="vm")),
                             reg("disks/image-0.qcow2", disk), reg("disks/layers/l0.qcow2", layer)]),
    "corrupt": b"\0" + tar([reg("manifest.json", manifest([("rootfs-diff.tar", diff, {})])),
                            reg("rootfs-diff.tar", b"CHANGES")]),
    "symlink": b"\0" + tar([reg("manifest.json", manifest([("rootfs-diff.tar", diff, {})])),
                            ("rootfs-diff.tar", tarfile.SYMTYPE, b"", "/etc/passwd")]),
    "traversal": b"\0" + tar([reg("manifest.json", manifest([("../x", diff, {})])), reg("../x", diff)]),
    "manifest_only": b"\1" + manifest(vm_files, type="vm"),
    "manifest_loop": b"\1" + manifest([("a", b"", {"backing_file": "b"}), ("b", b"", {"backing_file": "a"})]),
}
for name, data in seeds.items():
    with open("corpus/" + name, "wb") as f:
        f.write(data)
