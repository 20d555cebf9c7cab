#include "daemon/build/build_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include "base/fd.h"
#include "base/json.h"
#include "daemon/images/sha256.h"

namespace vessel::daemon::build {

std::string chain_key(std::string_view previous, std::string_view part) {
  Sha256 h;
  h.update(previous.data(), previous.size());
  h.update("\n", 1);
  h.update(part.data(), part.size());
  return h.hex_digest();
}

std::optional<CacheEntry> BuildCache::find(const std::string& key) const {
  auto text = read_file(store_ + "/build-cache/" + key);
  if (!text) return std::nullopt;
  auto j = json::parse(*text);
  if (!j || !j->is_object()) return std::nullopt;
  CacheEntry entry;
  if ((*j)["layer"].is_string()) {
    std::string hex = (*j)["layer"].get<std::string>();
    struct stat st;
    if (hex.size() != 64 || ::stat((store_ + "/layers/" + hex).c_str(), &st) != 0 ||
        ::stat((store_ + "/blobs/sha256/" + hex).c_str(), &st) != 0)
      return std::nullopt;  // the layer went with the last image using it
    entry.layer = hex;
  }
  return entry;
}

Result<void> BuildCache::put(const std::string& key, const CacheEntry& entry) const {
  std::string dir = store_ + "/build-cache";
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return fail_errno("mkdir {}", dir);
  json::Json j = {{"layer", entry.layer ? json::Json(*entry.layer) : json::Json(nullptr)}};
  std::string tmp = fmt::format("{}/.{}.{}", dir, key, ::gettid());
  TRY(write_file(tmp, j.dump()));
  if (::rename(tmp.c_str(), (dir + "/" + key).c_str()) != 0) {
    auto e = fail_errno("store the cache entry {}", key);
    ::unlink(tmp.c_str());
    return e;
  }
  return {};
}

}  // namespace vessel::daemon::build
