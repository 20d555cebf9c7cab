#include "daemon/api/host_paths.h"

#include <limits.h>
#include <stdlib.h>

#include <fmt/ranges.h>

#include <memory>

namespace vessel::daemon {

namespace {

Result<std::string> resolve(const std::string& path) {
  std::unique_ptr<char, decltype(&::free)> real(::realpath(path.c_str(), nullptr), ::free);
  if (!real) return fail_errno("resolve {}", path);
  return std::string(real.get());
}

bool under(const std::string& path, const std::string& prefix) {
  if (prefix == "/") return true;
  return path == prefix || (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
                            path[prefix.size()] == '/');
}

}  // namespace

Result<HostPathPolicy> HostPathPolicy::create(const std::vector<std::string>& prefixes) {
  HostPathPolicy p;
  for (const auto& prefix : prefixes) {
    if (prefix.empty() || prefix[0] != '/')
      return fail(EINVAL, "--allowed-host-path {}: expected an absolute directory", prefix);
    auto real = resolve(prefix);
    std::string kept = real ? *real : prefix;  // a prefix made later is taken as written
    while (kept.size() > 1 && kept.back() == '/') kept.pop_back();
    p.prefixes_.push_back(kept);
  }
  return p;
}

Result<std::string> HostPathPolicy::admit(const std::string& path, Role role, std::string_view field) const {
  if (any_host_path(role)) return path;
  auto denied = [&](std::string why) {
    return Unexpected(
        Error(EPERM, fmt::format("{}: {} {}", field, path.substr(0, 256), why))
            .with_hint(prefixes_.empty()
                           ? std::string("vesseld allows no host paths to non-admin clients: start it with "
                                         "--allowed-host-path DIR, or use an image")
                           : fmt::format("allowed: {}", fmt::join(prefixes_, ", "))));
  };
  auto real = resolve(path);
  if (!real) return denied(fmt::format("cannot be resolved ({})", strerror(real.error().errnum())));
  for (const auto& prefix : prefixes_)
    if (under(*real, prefix)) return *real;
  if (*real != path) return denied(fmt::format("(resolved to {}) is not under an allowed host path", real->substr(0, 256)));
  return denied("is not under an allowed host path");
}

Result<void> HostPathPolicy::admit(InstanceSpec& spec, Role role) const {
  if (!spec.rootfs.empty()) spec.rootfs = TRY(admit(spec.rootfs, role, "spec.rootfs"));
  if (!spec.kernel.empty()) spec.kernel = TRY(admit(spec.kernel, role, "spec.kernel"));
  if (!spec.initramfs.empty()) spec.initramfs = TRY(admit(spec.initramfs, role, "spec.initramfs"));
  for (size_t i = 0; i < spec.disks.size(); ++i)
    if (!spec.disks[i].path.empty())
      spec.disks[i].path = TRY(admit(spec.disks[i].path, role, fmt::format("spec.disks[{}].path", i)));
  for (size_t i = 0; i < spec.mounts.size(); ++i)
    if (spec.mounts[i].kind == MountKind::Bind)
      spec.mounts[i].source = TRY(admit(spec.mounts[i].source, role, fmt::format("spec.mounts[{}].source", i)));
  return {};
}

Result<void> HostPathPolicy::admit(ImageRequest& r, Role role) const {
  if (!r.archive.empty()) r.archive = TRY(admit(r.archive, role, "image.archive"));
  if (!r.kernel.empty()) r.kernel = TRY(admit(r.kernel, role, "image.kernel"));
  if (!r.initramfs.empty()) r.initramfs = TRY(admit(r.initramfs, role, "image.initramfs"));
  for (size_t i = 0; i < r.disks.size(); ++i)
    r.disks[i].first = TRY(admit(r.disks[i].first, role, fmt::format("image.disks[{}].path", i)));
  return {};
}

}  // namespace vessel::daemon
