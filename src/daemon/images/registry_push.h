// `vessel image push`: an image of the store sent to a registry. Each blob (layers, config) is
// first asked for with HEAD and skipped when the registry has it; a blob of an image pulled from
// another repository of the same registry is mounted from there (POST ...?mount=&from=) instead of
// sent; the rest is uploaded in one PUT when small, in PATCH chunks when larger. The manifest
// (stored_image.h) goes last.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "daemon/images/image_reference.h"
#include "daemon/images/registry_client.h"
#include "daemon/images/stored_image.h"

namespace vessel::daemon {

struct PushProgress {
  std::string step;  // "upload", "done"
  uint64_t done = 0, total = 0;  // bytes
  unsigned skipped = 0;          // blobs the registry had (or mounted)
};

// Returns the pushed manifest's digest ("sha256:<hex>").
Result<std::string> push_image(RegistryClient& client, const ImageReference& dest, const StoredImage& image,
                               const std::string& store, const std::function<void(const PushProgress&)>& progress);

}  // namespace vessel::daemon
