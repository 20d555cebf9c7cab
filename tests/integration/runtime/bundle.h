// Test fixture: a temp dir with a busybox-static rootfs and a config.json (from `vessel-runtime
// spec`) that each test edits, plus helpers that run vessel-runtime and capture its output.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vessel::runtime::test {

namespace fs = std::filesystem;
using nlohmann::json;

struct Output {
  int status = -1;  // exit code, or 128+signal
  std::string out, err;
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command line, capturing stdout and stderr in files (not pipes: a detached
// container keeps its stdio open, and must not make the test wait for it).
inline std::string slurp(const std::string& path);
inline Output sh(const std::string& cmd) {
  static int seq = 0;
  ++seq;
  std::string outfile = fmt::format("/tmp/vrt-out-{}-{}", getpid(), seq);
  std::string errfile = fmt::format("/tmp/vrt-err-{}-{}", getpid(), seq);
  Output o;
  int st = system(("{ " + cmd + "\n} >" + outfile + " 2>" + errfile + " </dev/null").c_str());
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  o.out = slurp(outfile);
  o.err = slurp(errfile);
  unlink(outfile.c_str());
  unlink(errfile.c_str());
  return o;
}

inline std::string slurp(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Builds a rootfs at `dir` from the host's static busybox (relative applet links).
inline void make_rootfs(const std::string& dir) {
  fs::create_directories(dir + "/bin");
  for (const char* d : {"etc", "proc", "sys", "dev", "tmp", "root"}) fs::create_directories(dir + "/" + d);
  fs::copy_file("/bin/busybox", dir + "/bin/busybox", fs::copy_options::overwrite_existing);
  Output list = sh("/bin/busybox --list");
  std::istringstream in(list.out);
  std::string applet;
  while (std::getline(in, applet))
    if (!applet.empty() && applet != "busybox") fs::create_symlink("busybox", dir + "/bin/" + applet);
  std::ofstream(dir + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n";
  std::ofstream(dir + "/etc/group") << "root:x:0:\nuser:x:1000:\n";
}

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) FAIL() << "integration tests of vessel-runtime need root";
    char tmpl[] = "/tmp/vessel-rt-XXXXXX";
    dir_ = mkdtemp(tmpl);
    bundle_ = dir_ + "/bundle";
    root_ = dir_ + "/state";
    fs::create_directories(bundle_);
    static std::string shared_rootfs;
    // One rootfs per test process (building it takes ~100 ms); tests never write to it
    // except through tmpfs mounts.
    if (shared_rootfs.empty()) {
      shared_rootfs = fmt::format("/tmp/vessel-rt-rootfs-{}", getpid());
      fs::remove_all(shared_rootfs);
      make_rootfs(shared_rootfs);
      // ctest runs each test in its own process: without this, every test left a rootfs behind.
      // (Only in this process: a forked child that calls exit() must not take it away.)
      static pid_t owner = getpid();
      std::atexit([] {
        std::error_code ec;
        if (getpid() == owner) fs::remove_all(shared_rootfs, ec);
      });
    }
    rootfs_ = shared_rootfs;
    Output o = rt("spec --bundle " + bundle_);
    ASSERT_EQ(o.status, 0) << o.err;
    config_ = json::parse(slurp(bundle_ + "/config.json"));
    config_["root"]["path"] = rootfs_;
    config_["process"]["terminal"] = false;
    config_["process"]["args"] = {"/bin/true"};
    id_ = fmt::format("t{}-{}", getpid(), counter_++);
  }
  void TearDown() override {
    for (const auto& id : ids_) rt("delete --force " + id);
    fs::remove_all(dir_);
  }

  void write_config() { std::ofstream(bundle_ + "/config.json") << config_.dump(2); }
  void set_args(std::vector<std::string> args) { config_["process"]["args"] = args; }

  Output rt(const std::string& args) { return sh(std::string(VESSEL_RUNTIME_BIN) + " --root " + root_ + " " + args); }
  // run (foreground) with the current config.
  Output run(const std::string& extra = "") {
    write_config();
    ids_.push_back(id_);
    return rt("run --bundle " + bundle_ + " " + extra + " " + id_);
  }
  Output run_sh(const std::string& script) {
    set_args({"/bin/sh", "-c", script});
    return run();
  }
  Output create(const std::string& id, const std::string& extra = "") {
    write_config();
    ids_.push_back(id);
    return rt("create --bundle " + bundle_ + " " + extra + " " + id);
  }
  std::string status(const std::string& id) {
    Output o = rt("state " + id);
    if (o.status != 0) return "error: " + o.err;
    return json::parse(o.out).value("status", "");
  }
  bool state_dir_exists(const std::string& id) { return fs::exists(root_ + "/" + id); }

  std::string dir_, bundle_, root_, rootfs_, id_;
  json config_;
  std::vector<std::string> ids_;
  static inline int counter_ = 0;
};

}  // namespace vessel::runtime::test
