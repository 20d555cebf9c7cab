#include "base/key_values.h"

namespace vessel {

std::vector<KeyValueItem> split_key_values(std::string_view text, char separator) {
  std::vector<KeyValueItem> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(separator, pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    KeyValueItem kv;
    kv.item = std::string(item);
    size_t eq = item.find('=');
    kv.has_value = eq != std::string_view::npos;
    kv.key = std::string(item.substr(0, eq));
    if (kv.has_value) kv.value = std::string(item.substr(eq + 1));
    out.push_back(std::move(kv));
  }
  return out;
}

}  // namespace vessel
