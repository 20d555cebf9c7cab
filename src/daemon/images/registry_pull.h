// `vessel image pull`: an image's manifest (an index resolved to linux/amd64), config and layers
// fetched from a registry into the content-addressed store. Every document and blob is checked
// against the digest that names it before it enters the store; blobs are downloaded a few at a
// time into <store>/tmp/pull-<hex>.partial, resumed with a Range request when a transfer breaks
// off, and renamed into <store>/blobs/sha256 only once verified; blobs the store has are not
// fetched again. Layers are unpacked as they arrive (stored_layer.h).
#pragma once

#include <functional>
#include <string>

#include "base/error.h"
#include "daemon/images/archive_import.h"
#include "daemon/images/image_reference.h"
#include "daemon/images/registry_client.h"
#include "daemon/images/registry_manifest.h"

namespace vessel::daemon {

struct PullProgress {
  std::string step;  // "resolve", "download", "unpack", "done"
  uint64_t done = 0, total = 0;  // bytes for "download" (all layers), layers for "unpack"
  unsigned layers_present = 0;   // layers the store had already
};

struct PulledImage {
  ImportedImage image;       // format "registry"; manifest_digest as the registry names it
  std::string manifest_hex;  // the image manifest (not the index), kept in the store
  std::string media_type;    // the manifest's
};

Result<PulledImage> pull_image(RegistryClient& client, const ImageReference& ref, const std::string& store,
                               const std::function<void(const PullProgress&)>& progress);

// One blob into <store>/blobs/sha256/<hex> (nothing when it is there): resumed, retried, verified.
// `on_bytes` is called with each chunk's size. `cancel`, when set, aborts the transfer.
Result<void> download_blob(RegistryClient& client, const Descriptor& blob, const std::string& store,
                           const std::function<void(uint64_t)>& on_bytes, const std::function<bool()>& cancel = {});

}  // namespace vessel::daemon
