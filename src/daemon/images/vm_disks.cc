#include "daemon/images/vm_disks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "base/fd.h"
#include "block/image.h"
#include "block/img_ops.h"
#include "daemon/images/disk_layers.h"

namespace vessel::daemon {

namespace {

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Creates `path` through a temporary name, so that a crash never leaves a half-made disk that a
// later start would take for a finished one.
Result<void> create_qcow2(const std::string& path, std::optional<uint64_t> size, const std::string& backing,
                          std::optional<block::Format> backing_format) {
  std::string tmp = path + ".tmp";
  block::CreateRequest r;
  r.format = block::Format::Qcow2;
  r.path = tmp;
  r.size = size;
  r.backing = backing;
  r.backing_format = backing_format;
  auto made = block::create_image(r);
  if (!made) {
    ::unlink(tmp.c_str());
    return Unexpected(std::move(made).error());
  }
  if (::rename(tmp.c_str(), path.c_str()) < 0) {
    auto e = fail_errno("rename {} to {}", tmp, path);
    ::unlink(tmp.c_str());
    return e;
  }
  return {};
}

// The format a disk is imported as. Named: that one. Unnamed: raw, never a guess (Firecracker's
// rule for drives; a disk may have been written by a guest, whose qcow2 header could name any host
// file as its backing file). A disk that begins with qcow2's magic is refused rather than copied
// as raw bytes that would boot nothing: its 4 first bytes choose the error, never the format.
Result<block::Format> import_format(const std::string& source, const std::string& format) {
  if (!format.empty()) return TRY_CTX(block::parse_format(format), "disk {}", source);
  Fd fd = TRY_CTX(Fd::open(source, O_RDONLY), "disk {}", source);
  char magic[4] = {};
  if (::pread(fd.get(), magic, sizeof magic, 0) == static_cast<ssize_t>(sizeof magic) && std::memcmp(magic, "QFI\xfb", 4) == 0)
    return Unexpected(Error(EINVAL, fmt::format("disk {} has no format and begins with a qcow2 header", source))
                          .with_hint("vesseld never guesses a format: pass path=FILE,format=qcow2 if it is a qcow2 "
                                     "image, or format=raw if it is a raw disk (a guest may have written that header)"));
  return block::Format::Raw;
}

}  // namespace

json::Json to_json(const BaseDisk& d) { return {{"path", d.path}, {"format", d.format}, {"size", d.size}}; }

Result<BaseDisk> base_disk_from_json(const json::Json& j) {
  if (!j.is_object()) return fail(EINVAL, "image disk: expected an object");
  BaseDisk d;
  d.path = TRY(json::get_string(j, "image disk", "path"));
  d.format = TRY(json::get_string(j, "image disk", "format"));
  d.size = TRY(json::opt_uint(j, "image disk", "size")).value_or(0);
  TRY(block::parse_format(d.format));
  return d;
}

Result<BaseDisk> import_base_disk(const std::string& source, const std::string& format, const std::string& dest,
                                  const std::function<void(double)>& progress) {
  if (source.empty() || source[0] != '/') return fail(EINVAL, "disk {}: the path must be absolute", source);
  if (!exists(source)) return fail(ENOENT, "disk {} does not exist", source);
  block::Format f = TRY(import_format(source, format));
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dest).parent_path(), ec);
  if (ec) return fail(ec.value(), "create {}: {}", std::filesystem::path(dest).parent_path().string(), ec.message());
  std::string tmp = dest + ".tmp";
  block::ConvertRequest r;
  r.src = source;
  r.src_format = f;
  r.dst = tmp;
  r.dst_format = f;
  r.unsafe_cache = false;  // the base must be on disk before the image is recorded
  r.progress = progress;
  // The admin names the disk and its format, but a qcow2's backing file name is bytes of the
  // image (a downloaded qcow2 naming /etc/shadow would copy that file into the store): only names
  // inside its folder. A raw disk has none to follow.
  r.access.backing = block::BackingPolicy::Inside;
  auto copied = block::convert_image(r);
  if (!copied) {
    ::unlink(tmp.c_str());
    return Unexpected(Error(copied.error()).add_context(fmt::format("import disk {}", source)));
  }
  auto size = [&]() -> Result<uint64_t> {
    auto b = TRY(block::open_image(tmp, f, {.read_only = true}));
    return b->size();
  }();
  if (!size || ::chmod(tmp.c_str(), 0444) < 0 || ::rename(tmp.c_str(), dest.c_str()) < 0) {
    ::unlink(tmp.c_str());
    if (!size) return Unexpected(std::move(size).error());
    return fail_errno("store disk {} as {}", source, dest);
  }
  return BaseDisk{dest, block::format_name(f), *size};
}

Result<std::vector<DiskSpec>> prepare_instance_disks(const InstanceSpec& spec, const std::vector<BaseDisk>& bases,
                                                     const std::string& instance_dir) {
  std::vector<DiskSpec> out;
  std::string dir = instance_dir + "/disks";
  if ((!bases.empty() || !spec.disks.empty()) && ::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST)
    return fail_errno("mkdir {}", dir);
  for (size_t i = 0; i < bases.size(); ++i) {
    const auto& base = bases[i];
    if (!exists(base.path))
      return Unexpected(Error(ENOENT, fmt::format("base disk {} of image {} is missing", base.path, spec.image))
                            .with_hint("re-import the image"));
    std::string overlay = fmt::format("{}/image-{}.qcow2", dir, i);
    if (!exists(overlay))
      TRY_CTX(create_qcow2(overlay, base.size, base.path, TRY(block::parse_format(base.format))),
              "create the overlay of {}", base.path);
    // The whole chain: after a named snapshot the overlay sits on frozen layers (disk_layers.h).
    auto chain = TRY(backing_chain(overlay));
    out.push_back({overlay, false, "qcow2", 0, chain.empty() ? std::vector<std::string>{base.path} : chain});
  }
  for (size_t i = 0; i < spec.disks.size(); ++i) {
    const auto& d = spec.disks[i];
    if (d.size_mib == 0) {
      if (!exists(d.path)) return fail(ENOENT, "disk {} does not exist", d.path);
      out.push_back({d.path, d.read_only, d.format.empty() ? "raw" : d.format, 0});
      continue;
    }
    std::string path = fmt::format("{}/disk-{}.qcow2", dir, i);
    if (!exists(path)) TRY_CTX(create_qcow2(path, d.size_mib << 20, "", std::nullopt), "create disk {}", i);
    auto chain = TRY(backing_chain(path));  // not inside the braces: see snapshot_meta.cc
    out.push_back({path, false, "qcow2", 0, std::move(chain)});
  }
  return out;
}

}  // namespace vessel::daemon
