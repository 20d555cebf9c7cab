#!/usr/bin/env python3
"""Writes an OCI image layout (what `skopeo copy oci:DIR:TAG ...` reads) from directories, one
gzip layer per --layer, for the registry tests and bench/images. With --also-arch ARCH the tag
names an image index listing a linux/amd64 image and a linux/ARCH one (same layers, its own
config), so that pulls must pick the platform.

usage: make_oci_layout.py OUT --tag TAG --layer DIR [--layer DIR ...] [--cmd JSON] [--also-arch ARCH]
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile


def write_blob(out, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(out, "blobs", "sha256", digest)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
    return "sha256:" + digest


def layer_of(directory):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for root, dirs, files in os.walk(directory):
            dirs.sort()
            for name in sorted(dirs) + sorted(files):
                full = os.path.join(root, name)
                info = tar.gettarinfo(full, arcname=os.path.relpath(full, directory))
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mtime = 0
                if info.isfile():
                    with open(full, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    tar_bytes = raw.getvalue()
    return tar_bytes, gzip.compress(tar_bytes, compresslevel=6, mtime=0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--tag", required=True)
    p.add_argument("--layer", action="append", required=True)
    p.add_argument("--cmd", default='["/bin/sh"]')
    p.add_argument("--also-arch")
    a = p.parse_args()
    os.makedirs(os.path.join(a.out, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(a.out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    layers, diff_ids = [], []
    for d in a.layer:
        tar_bytes, gz = layer_of(d)
        diff_ids.append("sha256:" + hashlib.sha256(tar_bytes).hexdigest())
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": write_blob(a.out, gz), "size": len(gz)})

    def manifest_for(arch):
        config = json.dumps({"architecture": arch, "os": "linux", "config": {"Cmd": json.loads(a.cmd), "Env": ["PATH=/bin"]},
                             "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
        m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": write_blob(a.out, config),
                                   "size": len(config)}, "layers": layers}).encode()
        return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": write_blob(a.out, m), "size": len(m),
                "platform": {"architecture": arch, "os": "linux"}}

    top = manifest_for("amd64")
    if a.also_arch:
        index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                            "manifests": [manifest_for(a.also_arch), top]}).encode()
        top = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": write_blob(a.out, index), "size": len(index)}
    top = dict(top)
    top.pop("platform", None)
    top["annotations"] = {"org.opencontainers.image.ref.name": a.tag}
    path = os.path.join(a.out, "index.json")
    entries = []
    if os.path.exists(path):
        entries = [m for m in json.load(open(path))["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != a.tag]
    with open(path, "w") as f:
        json.dump({"schemaVersion": 2, "manifests": entries + [top]}, f)


if __name__ == "__main__":
    main()
