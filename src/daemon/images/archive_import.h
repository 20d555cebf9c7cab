// Import of an image tarball: docker-archive (manifest.json, what `podman save` writes by
// default) or OCI image layout (index.json + blobs/, `podman save --format oci-archive`,
// `skopeo copy`). Every blob's sha256 is checked against the digest that names it; layers are
// unpacked once, with OCI whiteouts turned into overlayfs ones, and shared by every image.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::daemon {

struct ImportProgress;

struct ImportedImage {
  std::string format;           // "docker-archive" | "oci-layout"
  std::string manifest_digest;  // sha256:<hex>
  std::vector<std::string> layers;  // sha256:<hex> of each layer blob, lowest first
  std::vector<std::string> command, env;
  std::string workdir;
  uint64_t size = 0;  // bytes of layer blobs
};

// Unpacks `tarball` under <store>/tmp, verifies it, moves blobs to <store>/blobs/sha256 and
// unpacks missing layers to <store>/layers/<hex>.
Result<ImportedImage> import_image_archive(const std::string& tarball, const std::string& store,
                                           const std::function<void(const ImportProgress&)>& progress);

// Unpacks one layer tar (plain, gzip or zstd) into `target` (which must not exist), turning
// .wh. whiteouts into overlayfs whiteouts and refusing paths that escape the target.
Result<void> unpack_layer(const std::string& tar, const std::string& target);

// The image config's command, environment and working directory (OCI / docker config JSON).
void read_image_config(const json::Json& config, ImportedImage& out);

}  // namespace vessel::daemon
