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

const char* policy_name(BackingPolicy p) {
  switch (p) {
    case BackingPolicy::Inside: return "inside";
    case BackingPolicy::Follow: return "follow";
    case BackingPolicy::Listed: return "listed";
    case BackingPolicy::Refuse: return "refuse";
  }
  return "?";
}

Result<BackingPolicy> parse_backing_policy(const std::string& name) {
  if (name == "follow") return BackingPolicy::Follow;
  if (name == "inside") return BackingPolicy::Inside;
  if (name == "refuse") return BackingPolicy::Refuse;
  return fail(EINVAL, "unknown backing policy '{}' (follow, inside or refuse)", name);
}

namespace {

std::string folder_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Result<std::string> real_path(const std::string& path, const std::string& what) {
  char real[PATH_MAX];
  if (!::realpath(path.c_str(), real)) return fail_errno("{} {}", what, path);
  return std::string(real);
}

Unexpected refused(const std::string& image, const std::string& backing, const std::string& why) {
  return Unexpected(Error(EPERM, fmt::format("{} names backing file '{}', which {}", image, backing, why))
                        .with_hint("a backing file name is bytes of the image that whoever wrote the image chose; "
                                   "vessel-img follows it anyway with --backing-policy=follow, vessel-vmm when the "
                                   "drive lists the file in backing_files"));
}

}  // namespace

Result<std::string> backing_path(const std::string& image_path, const std::string& backing,
                                 const OpenOptions& options) {
  switch (options.backing) {
    case BackingPolicy::Follow:
      return resolve_backing(image_path, backing);
    case BackingPolicy::Refuse:
      return refused(image_path, backing, "is not followed here (backing files are refused)");
    case BackingPolicy::Inside: {
      if (backing.empty() || backing[0] == '/')
        return refused(image_path, backing, "is an absolute name (only names inside the image's folder are followed)");
      for (size_t at = 0; at <= backing.size();) {
        size_t end = backing.find('/', at);
        if (end == std::string::npos) end = backing.size();
        if (backing.compare(at, end - at, "..") == 0)
          return refused(image_path, backing, "leads out of the image's folder with '..'");
        at = end + 1;
      }
      std::string path = resolve_backing(image_path, backing);
      std::string dir = TRY(real_path(folder_of(image_path), "resolve the folder of"));
      std::string real = TRY(real_path(path, fmt::format("backing file of {}:", image_path)));
      if (real.compare(0, dir.size(), dir) != 0 || (dir != "/" && real.size() > dir.size() && real[dir.size()] != '/'))
        return refused(image_path, backing, fmt::format("is a symbolic link out of the image's folder (to {})", real));
      return real;  // opened by the path just checked, not by the name again
    }
    case BackingPolicy::Listed: {
      std::string path = resolve_backing(image_path, backing);
      std::string real = TRY(real_path(path, fmt::format("backing file of {}:", image_path)));
      for (const auto& allowed : options.allowed_backing) {
        auto a = real_path(allowed, "resolve allowed backing file");
        if (a && *a == real) return real;
      }
      return refused(image_path, backing,
                     fmt::format("is not one of the {} backing files this open allows (vessel-vmm: the drive's backing_files)",
                                 options.allowed_backing.size()));
    }
  }
  return fail(EINVAL, "unknown backing policy");
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
      std::string bpath = TRY(backing_path(path, h.backing_file, options));
      Format bfmt;
      if (h.backing_format) {
        bfmt = TRY(parse_format(*h.backing_format));
      } else if (options.probe_backing_format) {
        bfmt = TRY(probe_format(bpath));
      } else {
        return Unexpected(Error(EINVAL, fmt::format("{} does not record the format of its backing file {}", path, h.backing_file))
                              .with_hint("formats are not probed here; record it with 'vessel-img rebase -u -b NAME -F FORMAT'"));
      }
      OpenOptions below = options;
      below.read_only = true;
      below.unsafe_cache = false;
      backing = TRY_CTX(open_layer(bpath, bfmt, below, false, seen, depth + 1), "open backing file of {}", path);
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
