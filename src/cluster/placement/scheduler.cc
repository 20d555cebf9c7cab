#include <algorithm>

#include "cluster/placement/filters.h"
#include "cluster/placement/placement.h"

namespace vessel::cluster::placement {

Result<Policy> parse_policy(std::string_view text) {
  if (text == "spread") return Policy::Spread;
  if (text == "binpack") return Policy::Binpack;
  if (text == "proportional") return Policy::Proportional;
  return Unexpected(Error(EINVAL, fmt::format("unknown placement policy \"{}\"", text))
                        .with_hint("the policies are spread, binpack and proportional"));
}

std::string_view to_string(Policy policy) {
  switch (policy) {
    case Policy::Spread: return "spread";
    case Policy::Binpack: return "binpack";
    case Policy::Proportional: return "proportional";
  }
  return "?";
}

uint32_t Scheduler::intern(const std::string& text) {
  auto [it, added] = names_.try_emplace(text, static_cast<uint32_t>(names_.size() + 1));
  return it->second;
}

size_t Scheduler::add_node(const Node& node) {
  NodeState s;
  s.spec = node;
  s.weight = node.weight > 0 ? node.weight : node.cpus;
  for (const auto& [k, v] : node.labels) s.labels.push_back(intern(k + "=" + v));
  std::sort(s.labels.begin(), s.labels.end());
  if (schedulable(s)) total_weight_ += s.weight;
  nodes_.push_back(std::move(s));
  return nodes_.size() - 1;
}

void Scheduler::set_ready(size_t i, bool ready) { set_flags(i, ready, nodes_[i].spec.cordoned); }

void Scheduler::set_cordoned(size_t i, bool cordoned) { set_flags(i, nodes_[i].spec.ready, cordoned); }

// A node that becomes schedulable (or stops being) adds (or takes) its weight and its instances
// to proportional's sum(P) and V.
void Scheduler::set_flags(size_t i, bool ready, bool cordoned) {
  NodeState& n = nodes_[i];
  bool before = schedulable(n);
  n.spec.ready = ready;
  n.spec.cordoned = cordoned;
  if (before == schedulable(n)) return;
  if (before) {
    total_weight_ -= n.weight;
    placed_ -= n.load.instances;
  } else {
    total_weight_ += n.weight;
    placed_ += n.load.instances;
  }
}

Scheduler::Compiled Scheduler::compile(const Request& r) {
  Compiled c;
  c.cpus = r.cpus;
  c.memory_mib = r.memory_mib;
  if (!r.group.empty()) c.groups.push_back(intern(r.group));
  for (const auto& g : r.more_groups) c.groups.push_back(intern(g));
  for (const auto& [k, v] : r.selector) c.selector.push_back(intern(k + "=" + v));
  for (const auto& [k, v] : r.excluded) c.excluded.push_back(intern(k + "=" + v));
  for (const auto& g : r.affinity) c.affinity.push_back(intern(g));
  for (const auto& g : r.anti_affinity) c.anti_affinity.push_back(intern(g));
  // The first instance of a group that wants its own group beside it starts the group somewhere:
  // every group it wants is its own and runs nowhere yet.
  c.affinity_waived = !c.affinity.empty() && std::all_of(c.affinity.begin(), c.affinity.end(), [&](uint32_t g) {
    return std::find(c.groups.begin(), c.groups.end(), g) != c.groups.end() && !group_totals_.count(g);
  });
  return c;
}

Result<size_t> Scheduler::choose(const Request& request) {
  Compiled c = compile(request);
  size_t best = nodes_.size();
  double best_score = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const NodeState& n = nodes_[i];
    if (reject(n, c)) continue;
    double s = score(policy_, n, c, total_weight_, placed_);
    if (best == nodes_.size() || s > best_score) best = i, best_score = s;
  }
  if (best == nodes_.size()) return no_node(request, c);
  return best;
}

Unexpected Scheduler::no_node(const Request& request, const Compiled& c) const {
  size_t counts[kRejections] = {};
  for (const auto& n : nodes_)
    if (auto why = reject(n, c)) ++counts[static_cast<size_t>(*why)];
  std::string reasons;
  for (size_t k = 0; k < kRejections; ++k)
    if (counts[k] > 0) reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", counts[k], to_string(static_cast<Rejection>(k)));
  return Unexpected(Error(ENOSPC, fmt::format("no node can take {} ({:g} CPUs, {} MiB) of {} nodes: {}", request.name,
                                              request.cpus, request.memory_mib, nodes_.size(),
                                              reasons.empty() ? "there are none" : reasons)));
}

void Scheduler::commit(size_t i, const Request& request) {
  NodeState& n = nodes_[i];
  n.load.cpus += request.cpus;
  n.load.memory_mib += request.memory_mib;
  ++n.load.instances;
  if (schedulable(n)) ++placed_;
  count_groups(n, request, +1);
}

// Each group the request belongs to gains (or loses) one instance on the node and in total.
void Scheduler::count_groups(NodeState& n, const Request& request, int delta) {
  auto count = [&](const std::string& name) {
    uint32_t g = intern(name);
    auto it = std::find_if(n.groups.begin(), n.groups.end(), [g](const auto& p) { return p.first == g; });
    if (delta > 0) {
      ++group_totals_[g];
      if (it != n.groups.end()) ++it->second;
      else n.groups.emplace_back(g, 1);
      return;
    }
    if (auto t = group_totals_.find(g); t != group_totals_.end() && --t->second == 0) group_totals_.erase(t);
    if (it != n.groups.end() && --it->second == 0) n.groups.erase(it);
  };
  if (!request.group.empty()) count(request.group);
  for (const auto& name : request.more_groups) count(name);
}

void Scheduler::release(size_t i, const Request& request) {
  NodeState& n = nodes_[i];
  n.load.cpus = std::max(0.0, n.load.cpus - request.cpus);
  n.load.memory_mib -= std::min(n.load.memory_mib, request.memory_mib);
  if (n.load.instances > 0) {
    --n.load.instances;
    if (schedulable(n) && placed_ > 0) --placed_;
  }
  count_groups(n, request, -1);
}

Result<size_t> Scheduler::place(const Request& request) {
  size_t node = TRY(choose(request));
  commit(node, request);
  return node;
}

}  // namespace vessel::cluster::placement
