// Import of an image tarball: docker-archive (manifest.json, what `podman save` writes by
// default) or OCI image layout (index.json + blobs/, `podman save --format oci-archive`,
// `skopeo copy`). The tarball is hostile: its files are extracted inside a confined root, its
// JSON documents parsed into typed structs (image_manifest.h), every blob's sha256 checked
// against the digest that names it; layers are unpacked once (layer_unpack.h), with OCI
// whiteouts turned into overlayfs ones, and shared by every image.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "daemon/spec/restart_spec.h"

namespace vessel::daemon {

struct ImportProgress;

struct ImportedImage {
  std::string format;               // "docker-archive" | "oci-layout"
  std::string manifest_digest;      // sha256:<hex>
  std::vector<std::string> layers;  // sha256:<hex> of each layer blob, lowest first
  std::vector<std::string> entrypoint, cmd, env;  // ENTRYPOINT and CMD, kept apart (--entrypoint replaces one)
  std::string workdir, user;
  std::optional<HealthcheckSpec> healthcheck;  // the config's HEALTHCHECK
  std::vector<std::string> volumes;  // the config's VOLUMEs
  uint64_t size = 0;  // bytes of layer blobs
  std::string config_hex;  // the config, kept in the store as a blob (push and save need it)
  std::string archive_ref;  // what the archive calls it: RepoTags[0] or OCI's ref.name, "" if nothing
};

// Called once the archive is read and verified, before anything of it enters the store, with
// what the archive calls the image (ImportedImage::archive_ref); an error stops the import.
using ArchiveNameCheck = std::function<Result<void>(const ImportedImage&)>;

struct ImageConfig;
// What a container runs, from the image's config: entrypoint, cmd, env, workdir, user, health check.
void apply_image_config(const ImageConfig& config, ImportedImage& image);

// Unpacks `tarball` under <store>/tmp, verifies it, moves blobs to <store>/blobs/sha256 and
// unpacks missing layers to <store>/layers/<hex>. A malformed or hostile archive is an error
// (EINVAL for what the archive got wrong), never an exception.
Result<ImportedImage> import_image_archive(
    const std::string& tarball, const std::string& store,
    const std::function<void(const ImportProgress&)>& progress, const ArchiveNameCheck& check_name = {});

}  // namespace vessel::daemon
