// The build cache: a step's result (the layer it made, or none) kept under a key that chains
// the base image's config digest, every instruction before it with the values of the ARGs it
// saw, the instruction itself and, for COPY and ADD, the digest of the files it copies. Entries
// are small files <store>/build-cache/<key>, written whole (temporary name, rename); one whose
// layer is no longer in the store is a miss.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace vessel::daemon::build {

// The next key of the chain: sha256 of the previous key and `part`.
std::string chain_key(std::string_view previous, std::string_view part);

struct CacheEntry {
  std::optional<std::string> layer;  // the layer's hex; none: the step changed no file
};

class BuildCache {
 public:
  explicit BuildCache(std::string store) : store_(std::move(store)) {}
  // A hit whose layer is still in the store.
  std::optional<CacheEntry> find(const std::string& key) const;
  Result<void> put(const std::string& key, const CacheEntry& entry) const;

 private:
  std::string store_;
};

}  // namespace vessel::daemon::build
