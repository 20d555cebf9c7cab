// FaultChecker's faults, their undoing, and the judging of a run from the samples.
#include <signal.h>

#include <algorithm>

#include "fault_checker.h"

namespace vessel::test {

using namespace std::chrono_literals;

FaultChecker::Fault FaultChecker::inject(FaultKind kind, std::mt19937_64& rng, RunResult& r) {
  Fault f;
  if (kind == FaultKind::EtcdMemberRestart) {
    int k = static_cast<int>(rng() % static_cast<uint64_t>(etcd_.size()));
    r.target = "etcd m" + std::to_string(k + 1);
    f.start = Clock::now();
    if (std::string error; !etcd_.restart(k, SIGKILL, &error)) r.detail += error + "; ";
    f.end = Clock::now();
    return f;
  }
  // The node that runs an instance chosen at random.
  f.node = holder_of(names_[rng() % names_.size()]);
  if (!f.node) f.node = nodes_[rng() % nodes_.size()].get();
  r.target = f.node->name;
  int index = static_cast<int>(std::find_if(nodes_.begin(), nodes_.end(), [&](const auto& n) { return n.get() == f.node; }) -
                               nodes_.begin()) + 1;
  std::vector<pid_t> its_copies;
  for (size_t i = 0; i < names_.size(); ++i)
    if (holder_of(names_[i]) == f.node)
      for (pid_t p : copies(tokens_[i])) its_copies.push_back(p);
  f.start = Clock::now();
  switch (kind) {
    case FaultKind::KillNode:
      f.node->daemon->stop(SIGKILL);
      for (pid_t p : its_copies) ::kill(p, SIGKILL);  // the node dies with its instances
      break;
    case FaultKind::KillVesseld: f.node->daemon->stop(SIGKILL); break;  // the copies are the watchdog's
    case FaultKind::PauseVesseld:
      ::kill(f.node->daemon->pid(), SIGSTOP);
      std::this_thread::sleep_for(ttl() + 1500ms);
      ::kill(f.node->daemon->pid(), SIGCONT);
      break;
    case FaultKind::Partition:
      if (!network_.partition(index, true)) r.detail += "the partition's nftables rules failed; ";
      std::this_thread::sleep_for(ttl() + 2s);
      if (!network_.partition(index, false)) r.detail += "healing the partition failed; ";
      break;
    case FaultKind::EtcdMemberRestart: break;
  }
  f.end = Clock::now();
  return f;
}

void FaultChecker::restore(FaultKind kind, const Fault& f, RunResult& r) {
  if (kind != FaultKind::KillNode && kind != FaultKind::KillVesseld) return;
  if (!f.node->daemon->start()) r.detail += f.node->name + " did not start again; ";
}

void FaultChecker::judge(const Fault& f, RunResult& r) {
  auto samples = sampler_->since(f.start);
  std::optional<Clock::time_point> last_zero;
  for (size_t s = 0; s < samples.size(); ++s) {
    const auto& counts = samples[s].counts;
    double at = std::chrono::duration<double>(samples[s].at - f.start).count();
    for (size_t i = 0; i < counts.size(); ++i) {
      if (counts[i] > 1 && !r.split_brain) {
        r.split_brain = true;
        r.detail += fmt::format("{} copies of {} at {:.2f} s; ", counts[i], names_[i], at);
      }
      if (counts[i] == 0) last_zero = samples[s].at;
    }
  }
  if (!last_zero) return;  // no instance stopped
  if (*last_zero > f.end + 10s) {
    r.late = true;
    r.detail += fmt::format("an instance had no copy {:.2f} s after the fault ended; ",
                            std::chrono::duration<double>(*last_zero - f.end).count());
  }
  for (const auto& s : samples)
    if (s.at > *last_zero) return void(r.recovery = std::chrono::duration<double>(s.at - f.start).count());
}

// Lost: no copy, or no node whose API says it runs it, for 10 s after the cluster settled (a
// node just back from a fault may answer slowly for a moment; that is not a loss).
int FaultChecker::unacknowledged(std::string* detail) const {
  int lost = 0;
  for (size_t i = 0; i < names_.size(); ++i) {
    std::string seen, first;
    bool running = eventually([&] {
      Node* holder = holder_of(names_[i]);
      auto state = holder ? placement_of(*holder->daemon, names_[i]).second : std::string();
      size_t count = copies(tokens_[i]).size();
      seen = fmt::format("{} on {} ({}), {} copies", names_[i], holder ? holder->name : "no node", state, count);
      if (first.empty()) first = seen;
      return state == "running" && count == 1;
    }, 200);
    if (!running) ++lost, *detail += "lost: " + seen + "; ";
    else if (first != seen) fmt::print("  (at first {}; then {})\n", first, seen);  // a slow answer, not a loss
  }
  return lost;
}

}  // namespace vessel::test
