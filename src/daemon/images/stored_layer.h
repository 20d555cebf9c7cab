// The store's files: blobs (<store>/blobs/sha256/<hex>, verified before they get there) and layers
// unpacked once into <store>/layers/<hex>, shared read-only by every image that lists them. Both
// are written under a temporary name and renamed, so a crash never leaves half a file visible.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace vessel::daemon {

// Does nothing when the layer is unpacked already.
Result<void> unpack_stored_layer(const std::string& store, const std::string& hex);

// A small document (a config, a manifest) stored as the blob `hex` (its sha256, computed by the
// caller); nothing when the store has it.
Result<void> store_blob_text(const std::string& store, const std::string& hex, std::string_view text);

}  // namespace vessel::daemon
