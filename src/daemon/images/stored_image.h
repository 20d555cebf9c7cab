// An image of the store as push and save see it: its blobs (layers, config) with their media
// types and sizes, and its manifest: a pulled image's own (kept as it came, so its digest stays),
// otherwise an OCI manifest made from the blobs (layers' media types read from their first bytes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"

namespace vessel::daemon {

// What the image's row in the store says (image_store.cc fills it from the row's info).
struct StoredImage {
  std::vector<std::string> layer_hexes;  // lowest first
  std::string config_hex;
  std::string manifest_hex, media_type;  // a pulled image's manifest; empty: one is made
  std::string source;                    // the reference it was pulled from ("" when imported)
};

struct StoredBlob {
  std::string hex, media_type, path;
  uint64_t size = 0;
};

struct ImageDocuments {
  std::vector<StoredBlob> layers;
  StoredBlob config;
  std::string manifest, media_type;
};

// ENOTSUP for an image whose config was not kept (imported by an older vesseld); ENOENT for a
// blob missing from the store.
Result<ImageDocuments> image_documents(const std::string& store, const StoredImage& image);

}  // namespace vessel::daemon
