#include "cluster_fixture.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "base/fd.h"

namespace vessel::test {

namespace {
pid_t parent_of(pid_t pid) {
  // read_file, not a stream: a process that exits meanwhile is an error to skip, not an exception.
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return 0;
  const std::string& stat = *text;
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  char state = 0;
  pid_t ppid = 0;
  return std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) == 2 ? ppid : 0;
}

std::vector<std::string> argv_of(const std::string& cmdline) {
  std::vector<std::string> argv;
  for (size_t pos = 0; pos < cmdline.size();) {
    size_t end = cmdline.find('\0', pos);
    if (end == std::string::npos) end = cmdline.size();
    argv.push_back(cmdline.substr(pos, end - pos));
    pos = end + 1;
  }
  return argv;
}
}  // namespace

std::vector<std::vector<pid_t>> copies_of(const std::vector<std::string>& tokens) {
  std::vector<std::vector<pid_t>> found(tokens.size());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto text = read_file((entry.path() / "cmdline").string());
    if (!text) continue;  // it exited meanwhile
    auto argv = argv_of(*text);
    if (argv.size() != 4 || argv[0] != "/bin/sh" || argv[1] != "-c") continue;
    for (size_t i = 0; i < tokens.size(); ++i)
      if (argv[3] == tokens[i]) found[i].push_back(std::stoi(name));
  }
  // A child the shell forked for `sleep` shows the shell's command line until it execs: one copy.
  // A stopped (SIGSTOP) copy still counts: it runs again on SIGCONT.
  std::vector<std::vector<pid_t>> shells(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i)
    for (pid_t p : found[i])
      if (std::find(found[i].begin(), found[i].end(), parent_of(p)) == found[i].end()) shells[i].push_back(p);
  return shells;
}

std::vector<pid_t> copies(const std::string& token) { return copies_of({token}).front(); }

std::vector<std::unique_ptr<Node>> make_nodes(int count, const std::string& etcd, const std::string& ttl,
                                              const std::vector<std::vector<std::string>>& launchers) {
  std::vector<std::unique_ptr<Node>> nodes;
  for (int i = 1; i <= count; ++i) {
    auto n = std::make_unique<Node>();
    n->name = "node-" + std::to_string(i);
    n->cgroup.name = test_cgroup_parent() + "-" + std::to_string(i);
    n->daemon = std::make_unique<Daemon>(n->dir.path, std::vector<std::string>{"--node", n->name, "--cluster", etcd,
                                                                               "--lease-ttl", ttl, "--cgroup-parent", n->cgroup.name});
    if (static_cast<size_t>(i) <= launchers.size()) n->daemon->set_launcher(launchers[i - 1]);
    nodes.push_back(std::move(n));
  }
  return nodes;
}

std::pair<std::string, std::string> placement_of(const Daemon& d, const std::string& name) {
  auto r = d.vessel({"inspect", name});
  auto j = json::parse(r.out);
  if (r.status != 0 || !j || !j->is_object()) return {};
  return {j->value("node", ""), j->value("state", "")};
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(i == 0 ? 0 : i - 1, v.size() - 1)];
}

CliResult run_clustered(const Daemon& via, const std::string& name, const std::string& rootfs, const std::string& token) {
  return via.vessel({"run", "--cluster-wide", "--name", name, "--restart", "always", "--rootfs", rootfs, "--", "/bin/sh",
                     "-c", "while :; do sleep 1; done", token});
}

}  // namespace vessel::test
