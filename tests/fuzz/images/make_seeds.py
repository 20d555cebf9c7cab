#!/usr/bin/env python3
"""Writes the seed corpus of images_archive_fuzz: tiny tarballs, each prefixed with the byte that
picks the target (0: a whole image archive, 1: a layer alone). Run from this folder."""
import hashlib
import io
import tarfile

CANARY = "/tmp/vessel-archive-fuzz-canary"  # archive_import_fuzz.cc's canary directory


def entry(name, kind=tarfile.REGTYPE, data=b"", link="", mode=0o644):
    return (name, kind, data, link, mode)


def tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, kind, data, link, mode in entries:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mode, info.mtime = kind, link, mode, 1700000000
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            t.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    raw = buf.getvalue()
    end = len(raw.rstrip(b"\0"))
    return raw[: ((end + 511) // 512 + 2) * 512]  # drop the record padding, keep the end marker


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def docker_archive(layer, manifest=None, config=None):
    config = config if config is not None else (
        '{"config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["%s"]}}' % sha(layer)).encode()
    manifest = manifest if manifest is not None else b'[{"Config":"c.json","Layers":["l.tar"]}]'
    return tar([entry("manifest.json", data=manifest), entry("c.json", data=config), entry("l.tar", data=layer)])


def oci_archive(layer, index=None):
    config = ('{"rootfs":{"type":"layers","diff_ids":["%s"]}}' % sha(layer)).encode()
    manifest = ('{"schemaVersion":2,"config":{"digest":"%s"},"layers":[{"digest":"%s"}]}' % (sha(config), sha(layer))).encode()
    index = index if index is not None else ('{"schemaVersion":2,"manifests":[{"digest":"%s"}]}' % sha(manifest)).encode()
    blobs = [entry("blobs/sha256/" + sha(b)[7:], data=b) for b in (manifest, config, layer)]
    return tar([entry("oci-layout", data=b'{"imageLayoutVersion":"1.0.0"}'), entry("index.json", data=index)] + blobs)


plain = tar([entry("bin/", tarfile.DIRTYPE, mode=0o755), entry("bin/busybox", data=b"\x7fELF", mode=0o755),
             entry("bin/sh", tarfile.SYMTYPE, link="busybox"), entry("etc/", tarfile.DIRTYPE, mode=0o755),
             entry("etc/motd", data=b"hi\n"), entry("etc/motd2", tarfile.LNKTYPE, link="etc/motd"),
             entry("etc/.wh.gone"), entry("etc/.wh..wh..opq")])
whiteout = tar([entry("x", tarfile.SYMTYPE, link=CANARY), entry("x/.wh.secret")])
relative = tar([entry("x", tarfile.SYMTYPE, link="../../../../../.." + CANARY), entry("x/.wh.secret"),
                entry("x/.wh..wh..opq")])
write_through = tar([entry("x", tarfile.SYMTYPE, link=CANARY), entry("x/secret", data=b"overwritten"),
                     entry("x/planted", data=b"evil")])
hardlink = tar([entry("h", tarfile.LNKTYPE, link=CANARY + "/secret")])
hardlink_through = tar([entry("x", tarfile.SYMTYPE, link=CANARY), entry("h", tarfile.LNKTYPE, link="x/secret")])

seeds = {
    "docker_ok": b"\0" + docker_archive(plain),
    "oci_ok": b"\0" + oci_archive(plain),
    "docker_hostile_layer": b"\0" + docker_archive(whiteout),
    "docker_config_number": b"\0" + docker_archive(plain, manifest=b'[{"Config":5,"Layers":["l.tar"]}]'),
    "docker_config_nesting": b"\0" + docker_archive(plain, config=b'{"rootfs":"layers","config":[1]}'),
    "oci_index_number": b"\0" + oci_archive(plain, index=b'{"manifests":[5]}'),
    "docker_healthcheck": b"\0" + docker_archive(plain, config=(
        '{"config":{"Cmd":["/bin/sh"],"Healthcheck":{"Test":["CMD-SHELL","test -f /tmp/ok"],"Interval":500000000,'
        '"Retries":2}},"rootfs":{"type":"layers","diff_ids":["%s"]}}' % sha(plain)).encode()),
    "docker_healthcheck_bad": b"\0" + docker_archive(plain, config=(
        '{"config":{"Healthcheck":{"Test":["CMD"],"Interval":-5}},"rootfs":{"type":"layers","diff_ids":["%s"]}}'
        % sha(plain)).encode()),
    "layer_symlink_whiteout": b"\1" + whiteout,
    "layer_relative_symlink": b"\1" + relative,
    "layer_write_through_symlink": b"\1" + write_through,
    "layer_hardlink_host": b"\1" + hardlink,
    "layer_hardlink_through_symlink": b"\1" + hardlink_through,
}
for name, data in seeds.items():
    with open("corpus/" + name, "wb") as f:
        f.write(data)
