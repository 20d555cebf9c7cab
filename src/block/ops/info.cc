// vessel-img info: one JSON object per layer of the chain, in QEMU's vocabulary (the CLI prints it).
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <set>

#include "base/fd.h"
#include "block/image.h"
#include "block/image_lock.h"
#include "block/img_ops.h"
#include "block/qcow2.h"
#include "block/raw.h"

namespace vessel::block {

using nlohmann::json;

namespace {

uint64_t actual_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) < 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

Result<json> layer_info(const std::string& path, Format f, const Access& access, std::string* backing_name,
                        std::optional<Format>* backing_fmt) {
  json j;
  j["filename"] = path;
  j["format"] = format_name(f);
  j["actual-size"] = actual_size(path);
  j["dirty-flag"] = false;
  backing_name->clear();
  OpenOptions opts = access.reading();
  if (f == Format::Raw) {
    Fd fd = TRY_CTX(Fd::open(path, O_RDONLY), "open {}", path);
    TRY(lock_for_open(fd.get(), path, opts));
    auto raw = TRY(RawBackend::from_fd(std::move(fd), true));
    j["virtual-size"] = raw->size();
    return j;
  }
  Fd fd = TRY_CTX(Fd::open(path, O_RDONLY), "open {}", path);
  TRY(lock_for_open(fd.get(), path, opts));
  qcow2::Header h = TRY_CTX(Qcow2Backend::read_header(fd.get()), "{}", path);
  j["virtual-size"] = h.size;
  j["cluster-size"] = h.cluster_size();
  j["dirty-flag"] = (h.incompat & qcow2::kIncompatDirty) != 0;
  const char* comp = h.compression == qcow2::Compression::Zstd ? "zstd" : "zlib";
  json data = {{"compat", h.version == 2 ? "0.10" : "1.1"}, {"compression-type", comp},
               {"refcount-bits", h.refcount_bits()}};
  if (h.version == 3) {
    data["lazy-refcounts"] = (h.compat & qcow2::kCompatLazyRefcounts) != 0;
    data["corrupt"] = (h.incompat & qcow2::kIncompatCorrupt) != 0;
    data["extended-l2"] = false;
  }
  j["format-specific"] = {{"type", "qcow2"}, {"data", data}};
  if (!h.backing_file.empty()) {
    j["backing-filename"] = h.backing_file;
    *backing_name = h.backing_file;
    j["full-backing-filename"] = resolve_backing(path, h.backing_file);
    if (h.backing_format) {
      j["backing-filename-format"] = *h.backing_format;
      *backing_fmt = TRY(parse_format(*h.backing_format));
    } else {
      *backing_fmt = std::nullopt;
    }
  }
  return j;
}

}  // namespace

Result<std::vector<json>> image_info(const std::string& path, std::optional<Format> format, bool chain,
                                     const Access& access) {
  std::vector<json> out;
  std::set<std::string> seen;
  std::string cur = path;
  std::optional<Format> cf = format;
  for (int depth = 0; !cur.empty(); ++depth) {
    char real[PATH_MAX];
    if (!::realpath(cur.c_str(), real)) return fail_errno("resolve image path {}", cur);
    if (!seen.insert(real).second) return fail(ELOOP, "backing chain loops: {} appears twice", real);
    if (depth > kMaxChainDepth) return fail(ELOOP, "backing chain is deeper than {} images", kMaxChainDepth);
    Format f = cf ? *cf : TRY(probe_format(cur));
    std::string name;
    std::optional<Format> nf;
    out.push_back(TRY(layer_info(cur, f, access, &name, &nf)));
    if (!chain || name.empty()) break;
    cur = TRY(backing_path(cur, name, access.reading()));
    cf = nf;
  }
  return out;
}

}  // namespace vessel::block
