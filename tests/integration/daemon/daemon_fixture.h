// Test harness: a real vesseld in the foreground on a socket and state directory under a fresh
// temp dir, and the real `vessel` CLI run against it.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/json.h"
#include "base/process.h"

namespace vessel::test {

struct CliResult {
  int status = -1;
  std::string out, err;
};

// Runs a program to completion with stdout and stderr captured.
CliResult run(const std::vector<std::string>& argv, std::chrono::seconds timeout = std::chrono::seconds(120));

// A temporary directory, unmounted and removed on destruction.
struct TempDir {
  TempDir();
  ~TempDir();
  std::string path;
};

// A static busybox root filesystem in `dir`.
void make_busybox_rootfs(const std::string& dir);
// A docker-archive of one layer, the busybox root filesystem, made in `dir` (which must not exist
// yet); `config` is the image config's "config" object (Cmd, Entrypoint, User ...). Returns its path.
std::string make_busybox_image_archive(const std::string& dir, const std::string& config);

class Daemon {
 public:
  explicit Daemon(std::string dir, std::vector<std::string> extra = {});
  ~Daemon();
  // Starts vesseld and waits for its socket; false (with the log in `log()`) when it exits.
  bool start();
  // A command that execs vesseld's (e.g. nsenter --net=NETNS): it runs in its place.
  void set_launcher(std::vector<std::string> prefix) { launcher_ = std::move(prefix); }
  // Sends `sig` and waits for exit.
  ExitStatus stop(int sig = SIGTERM);
  // What vesseld printed.
  std::string log() const;
  const std::string& socket() const { return socket_; }
  const std::string& state_dir() const { return state_dir_; }
  pid_t pid() const { return process_.pid(); }

  // The CLI against this daemon.
  CliResult vessel(const std::vector<std::string>& args) const;
  // The CLI with --json, parsed.
  json::Json vessel_json(const std::vector<std::string>& args) const;

 private:
  std::string dir_, socket_, state_dir_, log_path_;
  std::vector<std::string> extra_, launcher_;
  Process process_;
};

// Polls `pred` every 50 ms until it holds (true) or `tries` polls have failed (default 15 s).
template <typename Pred>
bool eventually(Pred pred, int tries = 300) {
  for (int i = 0; i < tries; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// The instance's state as `vessel inspect` says it ("" when there is no such instance).
std::string state_of(const Daemon& d, const std::string& name);
// The numbers of the complete "count N" lines in the instance's log (the counter guests).
std::vector<long> logged_counts(const Daemon& d, const std::string& name);

std::string runtime_path();
std::string vesseld_path();
std::string vessel_path();
// Is `pid` alive?
bool alive(pid_t pid);
// A unique cgroup parent per test process, so parallel runs do not collide.
std::string test_cgroup_parent();
// Removes the cgroup parent `name` of a test's vesseld, in every hierarchy, once it is empty.
void remove_cgroup_parent(const std::string& name);
// A second vesseld's cgroup parent (tests that run two), removed at the end (the fixture
// removes only its own).
struct SecondCgroupParent {
  std::string name = test_cgroup_parent() + "-b";
  ~SecondCgroupParent();
};

}  // namespace vessel::test
