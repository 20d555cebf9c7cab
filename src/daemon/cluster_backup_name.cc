#include "daemon/cluster_backup_name.h"

#include <charconv>

namespace vessel::daemon {

std::optional<int64_t> cluster_backup_generation(std::string_view file, std::string_view instance) {
  if (instance.empty() || !file.starts_with(instance) || !file.ends_with(".tar")) return std::nullopt;
  file.remove_prefix(instance.size());
  file.remove_suffix(4);
  if (!file.starts_with(".g") || file.size() < 3) return std::nullopt;
  file.remove_prefix(2);
  if (file.front() == '0') return std::nullopt;  // one name per generation: the one take() writes
  int64_t generation = 0;
  auto [end, ec] = std::from_chars(file.data(), file.data() + file.size(), generation);
  if (ec != std::errc() || end != file.data() + file.size() || generation < 1) return std::nullopt;
  return generation;
}

std::optional<int64_t> cluster_partial_backup_generation(std::string_view file, std::string_view instance) {
  constexpr std::string_view kSuffix = ".partial";
  if (!file.starts_with('.') || !file.ends_with(kSuffix)) return std::nullopt;
  return cluster_backup_generation(file.substr(1, file.size() - 1 - kSuffix.size()), instance);
}

}  // namespace vessel::daemon
