#include "cluster/placement_rules.h"

#include "cluster/node_record.h"

namespace vessel::cluster {

using json::Json;

namespace {
Error bad_constraint(const std::string& text) {
  return Error(EINVAL, fmt::format("invalid placement constraint \"{}\"", text))
      .with_hint("use node.labels.KEY==VALUE, node.labels.KEY!=VALUE, node.hostname==NODE or node.hostname!=NODE");
}

// "KEY=VALUE" as a label (node_record.h's rules): one pair.
Result<std::pair<std::string, std::string>> label_pair(const std::string& text, const char* what) {
  auto parsed = parse_labels(text);
  if (!parsed || parsed->size() != 1 || text.find(',') != std::string::npos)
    return Unexpected(Error(EINVAL, fmt::format("invalid {} \"{}\"", what, text))
                          .with_hint("name the other instances by one of their labels: KEY=VALUE (vessel run --label)"));
  return *parsed->begin();
}

struct Constraint {
  std::string key, value;
  bool equal = true;
};

Result<Constraint> parse_constraint(const std::string& text) {
  Constraint c;
  size_t op = text.find("==");
  if (op == std::string::npos) {
    op = text.find("!=");
    c.equal = false;
  }
  if (op == std::string::npos) return Unexpected(bad_constraint(text));
  std::string left = text.substr(0, op);
  c.value = text.substr(op + 2);
  if (left == "node.hostname") {
    c.key = kHostnameLabel;
    if (!check_node_name(c.value)) return Unexpected(bad_constraint(text));
    return c;
  }
  constexpr std::string_view kLabels = "node.labels.";
  if (!left.starts_with(kLabels)) return Unexpected(bad_constraint(text));
  c.key = left.substr(kLabels.size());
  auto checked = parse_labels(c.key + "=" + c.value);
  if (c.key.empty() || !checked || checked->size() != 1 || c.key.find(',') != std::string::npos ||
      c.value.find(',') != std::string::npos)
    return Unexpected(bad_constraint(text));
  return c;
}

Result<std::vector<std::string>> string_list(const Json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array() || it->size() > 64) return fail(EINVAL, "placement.{}: expected an array of at most 64 strings", key);
  for (const auto& item : *it) {
    if (!item.is_string()) return fail(EINVAL, "placement.{}: expected strings", key);
    out.push_back(item.get<std::string>());
  }
  return out;
}
}  // namespace

Result<PlacementRules> parse_placement_rules(const Json& j) {
  PlacementRules rules;
  if (j.is_null()) return rules;
  if (!j.is_object()) return fail(EINVAL, "placement: expected an object");
  TRY(json::reject_unknown(j, "placement", {"constraints", "affinity", "anti_affinity"}));
  rules.constraints = TRY(string_list(j, "constraints"));
  rules.affinity = TRY(string_list(j, "affinity"));
  rules.anti_affinity = TRY(string_list(j, "anti_affinity"));
  placement::Request check;
  TRY(apply_placement_rules(rules, check));
  return rules;
}

Json placement_rules_json(const PlacementRules& rules) {
  return {{"constraints", rules.constraints}, {"affinity", rules.affinity}, {"anti_affinity", rules.anti_affinity}};
}

Result<void> apply_placement_rules(const PlacementRules& rules, placement::Request& request) {
  for (const auto& text : rules.constraints) {
    auto c = TRY(parse_constraint(text));
    auto& into = c.equal ? request.selector : request.excluded;
    if (c.equal && into.count(c.key) && into[c.key] != c.value)
      return Unexpected(Error(EINVAL, fmt::format("placement constraints ask {} to be both {} and {}", c.key,
                                                  into[c.key], c.value))
                            .with_hint("no node can match: drop one of them"));
    into[c.key] = c.value;
  }
  for (const auto& text : rules.affinity) {
    auto [k, v] = TRY(label_pair(text, "affinity"));
    request.affinity.push_back(k + "=" + v);
  }
  for (const auto& text : rules.anti_affinity) {
    auto [k, v] = TRY(label_pair(text, "anti-affinity"));
    request.anti_affinity.push_back(k + "=" + v);
  }
  return {};
}

}  // namespace vessel::cluster
