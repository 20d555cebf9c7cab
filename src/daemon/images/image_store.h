// Images: container images imported from docker-archive or OCI-layout tarballs into a
// content-addressed store (<state>/images/blobs/sha256/<hex>, every blob's digest verified),
// each layer unpacked once into <state>/images/layers/<hex> and shared read-only by every
// container through overlayfs; VM images are a kernel, an initramfs and a command line.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "daemon/images/boot_source.h"
#include "daemon/images/registry_pull.h"
#include "daemon/images/image_save.h"
#include "daemon/images/registry_push.h"
#include "daemon/spec/spec.h"
#include "daemon/store/store.h"

namespace vessel::daemon {

struct ImportedImage;

struct ImportProgress {
  std::string step;  // "read", "verify", "unpack"
  uint64_t done = 0;
  uint64_t total = 0;
};

class ImageStore {
 public:
  ImageStore(Store& store, std::string dir);

  // What `spec` boots from: its image's layers/kernel, or its rootfs/kernel given directly.
  Result<BootSource> resolve(const InstanceSpec& spec);

  // Imports a docker-archive or OCI-layout tarball (what `podman save` writes) as `name`: a plain
  // name, a reference (stored canonical: docker.io/library/busybox:1.36), or "" for the archive's
  // own (RepoTags, OCI ref.name; else the file's name).
  Result<json::Json> import_archive(const std::string& name, const std::string& tarball,
                                    const std::function<void(const ImportProgress&)>& progress);
  // An image another node of the cluster saved (docs/cluster.md#images), imported as `name` only
  // when its ID is `config` (the config's digest: it names every layer's content), and recorded
  // under that node's manifest `digest`: a save and an import make a new manifest, and the image
  // must be the same one on every node (a backup names it by that digest). EBADMSG otherwise.
  Result<json::Json> import_peer_copy(const std::string& name, const std::string& tarball, const std::string& config,
                                      const std::string& digest);
  // Registers a VM image: kernel + optional initramfs and command line (files are referenced);
  // `name` "": the kernel file's name.
  // Its disks ({path, format}: format empty = probe) are copied into the store as read-only
  // bases (<dir>/disks/<name>/diskN.<format>) that instances get qcow2 overlays on.
  Result<json::Json> register_vm(const std::string& name, const std::string& kernel, const std::string& initramfs,
                                 const std::string& cmdline,
                                 const std::vector<std::pair<std::string, std::string>>& disks = {},
                                 const std::function<void(const ImportProgress&)>& progress = {});
  // Pulls `reference` from its registry (registry_pull.h) and names the image by the reference's
  // canonical form (`busybox` -> docker.io/library/busybox:latest); a name that already has that
  // manifest is left as it is, one with another manifest now names the new image.
  Result<json::Json> pull(const std::string& reference, const std::optional<http::Credentials>& credentials,
                          const std::function<void(const PullProgress&)>& progress);
  // Pushes image `name` to `reference` (registry_push.h); returns {"reference", "digest"}.
  Result<json::Json> push(const std::string& name, const std::string& reference,
                          const std::optional<http::Credentials>& credentials,
                          const std::function<void(const PushProgress&)>& progress);
  // Writes image `name` as a tar (image_save.h) to `out_fd`.
  Result<void> save(const std::string& name, SaveFormat format, int out_fd);
  // `vessel login`: are these credentials accepted by `server` (host[:port])?
  Result<void> check_login(const std::string& server, const http::Credentials& credentials);
  // A second name for an image (`vessel image tag`): a plain name or a reference.
  Result<json::Json> tag(const std::string& source, const std::string& target);
  void set_registry_options(RegistryOptions options) { registry_options_ = std::move(options); }
  Result<json::Json> list();
  Result<json::Json> inspect(const std::string& name);
  // Refused (EBUSY) while an instance uses the image. Layers no other image uses are removed.
  Result<void> remove(const std::string& name);

  // The image called `name`, or, when `name` is a reference, the one named by its canonical form
  // (NAME:latest also finds a plain NAME).
  Result<std::optional<ImageRow>> find(const std::string& name);
  // vessel build (docs/daemon/build.md): names the image a build made, its layers and config
  // already in the store; a name another image had moves to this one, as Docker's -t does.
  Result<json::Json> commit_built(const std::string& name, const ImportedImage& image);
  // A container image's blobs and manifest, as its row lists them (push, save, build's FROM).
  Result<std::pair<ImageRow, StoredImage>> stored_image(const std::string& name);

  const std::string& dir() const { return dir_; }

 private:
  struct PeerCopy {
    std::string config, digest;
  };
  Result<json::Json> import_tarball(const std::string& name, const std::string& tarball,
                                    const std::function<void(const ImportProgress&)>& progress, const PeerCopy* peer);
  std::string layer_dir(const std::string& digest) const;
  json::Json describe(const ImageRow& row) const;

  Store& store_;
  std::string dir_;
  std::mutex mutex_;  // imports, pulls and removals one at a time (layers are shared)
  RegistryOptions registry_options_;
};

}  // namespace vessel::daemon
