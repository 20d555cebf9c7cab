// vessel-img create: an empty raw or qcow2 image, its size possibly taken from the backing file.
#include <fcntl.h>
#include <unistd.h>

#include "base/fd.h"
#include "block/image.h"
#include "block/image_lock.h"
#include "block/img_ops.h"

namespace vessel::block {

Result<void> apply_create_options(const std::string& text, qcow2::CreateOptions& o) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? text.size() : comma + 1;
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos) return fail(EINVAL, "option '{}' needs a value (key=value)", item);
    std::string key = item.substr(0, eq), val = item.substr(eq + 1);
    if (key == "cluster_size") {
      uint64_t cs = TRY(parse_size(val));
      if (cs < 512 || cs > (2u << 20) || (cs & (cs - 1)))
        return fail(EINVAL, "cluster_size {} must be a power of two between 512 and 2M", cs);
      o.cluster_bits = static_cast<uint32_t>(__builtin_ctzll(cs));
    } else if (key == "compat") {
      if (val == "0.10" || val == "v2") o.version = 2;
      else if (val == "1.1" || val == "v3") o.version = 3;
      else return fail(EINVAL, "compat '{}' must be 0.10 or 1.1", val);
    } else if (key == "compression_type") {
      if (val == "zlib") o.compression = qcow2::Compression::Zlib;
      else if (val == "zstd") o.compression = qcow2::Compression::Zstd;
      else return fail(EINVAL, "compression_type '{}' must be zlib or zstd", val);
    } else if (key == "refcount_bits") {
      uint64_t bits = TRY(parse_size(val));
      if (bits == 0 || bits > 64 || (bits & (bits - 1))) return fail(EINVAL, "refcount_bits {} must be a power of two up to 64", bits);
      o.refcount_order = static_cast<uint32_t>(__builtin_ctzll(bits));
    } else if (key == "backing_file") {
      o.backing_file = val;
    } else if (key == "backing_fmt") {
      o.backing_format = val;
    } else {
      return fail(EINVAL, "unknown option '{}' (cluster_size, compat, compression_type, refcount_bits, backing_file, backing_fmt)", key);
    }
  }
  if (o.version == 2 && o.compression == qcow2::Compression::Zstd)
    return fail(EINVAL, "compression_type=zstd needs compat=1.1");
  if (o.version == 2 && o.refcount_order != 4) return fail(EINVAL, "compat=0.10 needs refcount_bits=16");
  return {};
}

Result<void> create_image(const CreateRequest& r) {
  qcow2::CreateOptions o;
  TRY(apply_create_options(r.options, o));
  if (!r.backing.empty()) o.backing_file = r.backing;
  if (r.backing_format) o.backing_format = format_name(*r.backing_format);
  uint64_t size = 0;
  if (r.size) {
    size = *r.size;
  } else if (!o.backing_file.empty()) {
    std::string bpath = resolve_backing(r.path, o.backing_file);
    Format bf = o.backing_format.empty() ? TRY(probe_format(bpath)) : TRY(parse_format(o.backing_format));
    auto b = TRY_CTX(open_image(bpath, bf, r.access.reading()), "open backing file {}", bpath);
    size = b->size();
  } else {
    return fail(EINVAL, "an image size is required without a backing file");
  }
  if (r.format == Format::Raw) {
    if (!o.backing_file.empty()) return fail(EINVAL, "raw images cannot have a backing file");
    if (!r.options.empty()) return fail(EINVAL, "raw images take no -o options");
    // Locked before it is emptied: an image in use is not truncated under its user.
    Fd fd = TRY_CTX(Fd::open(r.path, O_RDWR | O_CREAT, 0644), "create {}", r.path);
    TRY(lock_image(fd.get(), r.path, LockMode::Writer));
    if (::ftruncate(fd.get(), 0) < 0) return fail_errno("truncate {}", r.path);
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) < 0) return fail_errno("resize {} to {} bytes", r.path, size);
    return {};
  }
  if (!o.backing_file.empty() && o.backing_format.empty()) {
    std::string bpath = resolve_backing(r.path, o.backing_file);
    o.backing_format = format_name(TRY(probe_format(bpath)));
  }
  o.size = size;
  return qcow2::create(r.path, o);
}

}  // namespace vessel::block
