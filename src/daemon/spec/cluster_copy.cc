#include "daemon/spec/cluster_copy.h"

#include <charconv>
#include <string>

namespace vessel::daemon {

std::optional<int64_t> cluster_generation(const json::Json& spec) {
  if (!spec.is_object()) return std::nullopt;
  auto labels = spec.find("labels");
  if (labels == spec.end() || !labels->is_object()) return std::nullopt;
  auto label = labels->find(kClusterGenerationLabel);
  if (label == labels->end() || !label->is_string()) return std::nullopt;
  const std::string& text = label->get_ref<const std::string&>();
  int64_t generation = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), generation);
  if (ec != std::errc() || end != text.data() + text.size() || generation <= 0) return std::nullopt;
  return generation;
}

json::Json cluster_copy_spec(const json::Json& spec, int64_t generation) {
  json::Json copy = spec;
  if (!copy.contains("labels") || !copy["labels"].is_object()) copy["labels"] = json::Json::object();
  copy["labels"][kClusterGenerationLabel] = std::to_string(generation);
  copy.erase("restart");
  return copy;
}

}  // namespace vessel::daemon
