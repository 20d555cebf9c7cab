// "k=v,k2,k3=v3" lists of flags (vessel run --disk, vesseld --labels, --cluster's URLs): the items
// between the separators, empty ones skipped, each split at its first '='.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vessel {

struct KeyValueItem {
  std::string item;  // as written
  std::string key;   // before the first '=' (the whole item without one)
  std::string value; // after it ("" without one)
  bool has_value = false;
};

std::vector<KeyValueItem> split_key_values(std::string_view text, char separator = ',');

}  // namespace vessel
