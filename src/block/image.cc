#include "block/image.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>

#include <set>

#include "base/fd.h"
#include "block/qcow2.h"
#include "block/qcow2_format.h"
#include "block/raw.h"

namespace vessel::block {

const char* format_name(Format f) { return f == Format::Qcow2 ? "qcow2" : "raw"; }

Result<Format> parse_format(const std::string& name) {
  if (name == "raw") return Format::Raw;
  if (name == "qcow2") return Format::Qcow2;
  return fail(EINVAL, "unknown image format '{}' (raw or qcow2)", name);
}

Result<Format> probe_format(const std::string& path) {
  Fd fd = TRY_CTX(Fd::open(path, O_RDONLY), "open {}", path);
  uint8_t magic[4] = {};
  ssize_t n = ::pread(fd.get(), magic, sizeof magic, 0);
  if (n == 4 && qcow2::be32(magic) == qcow2::kMagic) return Format::Qcow2;
  return Format::Raw;
}

std::string resolve_backing(const std::string& image_path, const std::string& backing) {
  if (backing.empty() || backing[0] == '/') return backing;
  auto slash = image_path.rfind('/');
  if (slash == std::string::npos) return backing;
  return image_path.substr(0, slash + 1) + backing;
}

namespace {

Result<std::unique_ptr<BlockBackend>> open_layer(const std::string& path, Format format,
                                                 const OpenOptions& options, bool no_backing,
                                                 std::set<std::string>& seen, int depth) {
  char real[PATH_MAX];
  if (!::realpath(path.c_str(), real)) return fail_errno("resolve image path {}", path);
  if (!seen.insert(real).second)
    return fail(ELOOP, "backing chain loops: {} appears twice", real);
  if (depth > kMaxChainDepth)
    return fail(ELOOP, "backing chain is deeper than {} images at {}", kMaxChainDepth, path);
  if (format == Format::Raw) {
    auto raw = TRY(RawBackend::open(path, options));
    return std::unique_ptr<BlockBackend>(std::move(raw));
  }
  std::unique_ptr<BlockBackend> backing;
  if (!no_backing) {
    Fd fd = TRY_CTX(Fd::open(path, O_RDONLY), "open qcow2 image {}", path);
    qcow2::Header h = TRY_CTX(Qcow2Backend::read_header(fd.get()), "{}", path);
    if (!h.backing_file.empty()) {
      std::string bpath = resolve_backing(path, h.backing_file);
      Format bfmt = h.backing_format ? TRY(parse_format(*h.backing_format)) : TRY(probe_format(bpath));
      backing = TRY_CTX(open_layer(bpath, bfmt, {.read_only = true}, false, seen, depth + 1),
                        "open backing file of {}", path);
    }
  }
  auto q = TRY(Qcow2Backend::open(path, options, std::move(backing)));
  return std::unique_ptr<BlockBackend>(std::move(q));
}

}  // namespace

Result<std::unique_ptr<BlockBackend>> open_image(const std::string& path, Format format,
                                                 const OpenOptions& options, bool no_backing) {
  std::set<std::string> seen;
  return open_layer(path, format, options, no_backing, seen, 0);
}

}  // namespace vessel::block
