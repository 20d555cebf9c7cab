#include "daemon/images/disk_layers.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "base/fd.h"
#include "block/image.h"
#include "block/img_ops.h"
#include "block/qcow2.h"

namespace vessel::daemon {

namespace {

Result<block::qcow2::Header> header_of(const std::string& image) {
  Fd fd = TRY(Fd::open(image, O_RDONLY | O_CLOEXEC));
  return TRY_CTX(block::Qcow2Backend::read_header(fd.get()), "{}", image);
}

bool is_qcow2(const std::string& image) {
  auto fd = Fd::open(image, O_RDONLY | O_CLOEXEC);
  char magic[4] = {};
  return fd && ::pread(fd->get(), magic, 4, 0) == 4 && std::equal(magic, magic + 4, "QFI\xfb");
}

// A new qcow2 at `path` of `size` bytes backed by the qcow2 `layer`, through a temporary name.
Result<void> create_over(const std::string& path, uint64_t size, const std::string& layer) {
  std::string tmp = path + ".tmp";
  block::CreateRequest r;
  r.format = block::Format::Qcow2;
  r.path = tmp;
  r.size = size;
  r.backing = layer;
  r.backing_format = block::Format::Qcow2;
  r.access.backing = block::BackingPolicy::Follow;  // vesseld's own files
  if (auto made = block::create_image(r); !made) {
    ::unlink(tmp.c_str());
    return Unexpected(std::move(made).error().add_context(fmt::format("create {} over {}", path, layer)));
  }
  ::chmod(tmp.c_str(), 0600);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto e = fail_errno("rename {} to {}", tmp, path);
    ::unlink(tmp.c_str());
    return e;
  }
  return {};
}

}  // namespace

Result<std::vector<std::string>> backing_chain(const std::string& image) {
  std::vector<std::string> out;
  std::string at = image;
  for (int depth = 0; is_qcow2(at); ++depth) {
    if (depth > block::kMaxChainDepth) return fail(ELOOP, "{}: the backing chain is deeper than {}", image, block::kMaxChainDepth);
    auto h = TRY(header_of(at));
    if (h.backing_file.empty()) break;
    at = block::resolve_backing(at, h.backing_file);
    if (std::find(out.begin(), out.end(), at) != out.end()) return fail(ELOOP, "{}: the backing chain loops at {}", image, at);
    out.push_back(at);
  }
  return out;
}

Result<uint64_t> qcow2_virtual_size(const std::string& image) { return TRY(header_of(image)).size; }

Result<void> freeze_disk(const std::string& top, const std::string& layer) {
  uint64_t size = TRY(qcow2_virtual_size(top));
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(layer).parent_path(), ec);
  if (ec) return fail(ec.value(), "create the directory of {}: {}", layer, ec.message());
  if (::access(layer.c_str(), F_OK) == 0) return fail(EEXIST, "layer {} exists already", layer);
  if (::rename(top.c_str(), layer.c_str()) != 0) return fail_errno("rename {} to {}", top, layer);
  // Read-only for everyone, and vesseld's: the VM's uid owned the top (the jail's grant).
  (void)::chown(layer.c_str(), ::geteuid(), ::getegid());
  ::chmod(layer.c_str(), 0444);
  if (auto made = create_over(top, size, layer); !made) {
    ::chmod(layer.c_str(), 0600);
    (void)::rename(layer.c_str(), top.c_str());
    return made;
  }
  return {};
}

Result<void> unfreeze_disk(const std::string& top, const std::string& layer) {
  ::unlink(top.c_str());
  ::chmod(layer.c_str(), 0600);
  if (::rename(layer.c_str(), top.c_str()) != 0) return fail_errno("rename {} back to {}", layer, top);
  return {};
}

Result<void> reset_top(const std::string& top, const std::string& layer) {
  return create_over(top, TRY(qcow2_virtual_size(layer)), layer);
}

std::vector<std::string> unneeded_layers(const std::vector<std::string>& layers, const std::vector<std::string>& needed) {
  std::vector<std::string> out;
  for (const auto& l : layers)
    if (std::find(needed.begin(), needed.end(), l) == needed.end()) out.push_back(l);
  return out;
}

}  // namespace vessel::daemon
