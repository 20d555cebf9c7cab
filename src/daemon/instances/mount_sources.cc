#include "daemon/instances/mount_sources.h"

#include <algorithm>

#include "base/random_hex.h"

namespace vessel::daemon {

namespace {

constexpr size_t kNameBytes = 16;  // 32 hex digits: a name no user picks by chance

std::string random_volume_name() { return random_hex(kNameBytes); }

}  // namespace

void name_anonymous_volumes(InstanceSpec& spec) {
  for (auto& m : spec.mounts)
    if (m.kind == MountKind::Volume && m.source.empty()) {
      m.source = random_volume_name();
      m.anonymous = true;
    }
}

void add_image_volumes(InstanceSpec& spec, const std::vector<std::string>& image_volumes) {
  auto trimmed = [](std::string p) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
  };
  for (const auto& path : image_volumes) {
    std::string target = trimmed(path);
    if (target == "/") continue;
    bool covered = std::any_of(spec.mounts.begin(), spec.mounts.end(),
                               [&](const MountSpec& m) { return trimmed(m.target) == target; });
    if (!covered) spec.mounts.push_back(MountSpec{.kind = MountKind::Volume, .target = target});
  }
}

Result<std::vector<std::pair<MountSpec, std::string>>> resolve_mounts(const InstanceSpec& spec, Volumes* volumes) {
  std::vector<std::pair<MountSpec, std::string>> out;
  for (const auto& m : spec.mounts) {
    std::string source;
    if (m.kind == MountKind::Bind) {
      if (::access(m.source.c_str(), F_OK) != 0)
        return Unexpected(Error(ENOENT, fmt::format("bind mount source {} (for {})", m.source, m.target))
                              .with_hint("create it first: vessel does not make host paths (use a named volume for that)"));
      source = m.source;
    } else if (m.kind == MountKind::Volume) {
      if (!volumes) return fail(ENOTSUP, "this vesseld has no volumes");
      if (m.source.empty()) return fail(EINVAL, "the anonymous volume for {} was not named", m.target);
      source = spec.type == InstanceType::Vm ? TRY(volumes->ensure_disk(m.source)) : TRY(volumes->ensure(m.source));
    }
    out.emplace_back(m, std::move(source));
  }
  // -v /a/b and -v /a, in any order: /a first, or it would hide /a/b.
  auto depth = [](const std::string& p) { return std::count(p.begin(), p.end(), '/'); };
  std::stable_sort(out.begin(), out.end(),
                   [&](const auto& a, const auto& b) { return depth(a.first.target) < depth(b.first.target); });
  return out;
}

}  // namespace vessel::daemon
