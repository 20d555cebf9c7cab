#include "daemon/images/stored_layer.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "base/fd.h"

#include "daemon/images/layer_unpack.h"

namespace vessel::daemon {

namespace fs = std::filesystem;

Result<void> unpack_stored_layer(const std::string& store, const std::string& hex) {
  std::error_code ec;
  std::string layer = store + "/layers/" + hex;
  if (fs::exists(layer, ec)) return {};
  std::string partial = layer + ".partial";
  fs::remove_all(partial, ec);
  auto unpacked = unpack_layer(store + "/blobs/sha256/" + hex, partial);
  if (!unpacked) {
    fs::remove_all(partial, ec);
    return unpacked;
  }
  fs::rename(partial, layer, ec);
  if (ec) return fail(ec.value(), "store layer {}: {}", hex, ec.message());
  return {};
}

Result<void> store_blob_text(const std::string& store, const std::string& hex, std::string_view text) {
  std::string final_path = store + "/blobs/sha256/" + hex;
  std::error_code ec;
  if (fs::exists(final_path, ec)) return {};
  std::string tmp = fmt::format("{}/tmp/doc-{}-{}", store, hex, ::gettid());
  {
    Fd out = TRY(Fd::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    TRY_CTX(write_all(out.get(), text), "write {}", tmp);
  }
  if (::rename(tmp.c_str(), final_path.c_str()) < 0) {
    auto err = Error::from_errno(fmt::format("store blob {}", hex));
    ::unlink(tmp.c_str());
    return Unexpected(std::move(err));
  }
  return {};
}

}  // namespace vessel::daemon
