// Runs vessel-vmm as a child process for integration tests: stdout (the guest console) goes to a
// temp file that the test can poll; the exit status and the --metrics-file JSON are collected.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "base/json.h"
#include "base/process.h"
#include "test_guests.h"

namespace vessel::vmm::test {

inline std::string guest(const std::string& name) { return std::string(VESSEL_TEST_GUEST_DIR) + "/" + name; }

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/vessel-vmm-test.XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct VmmResult {
  ExitStatus status;
  std::string console;
  std::string errors;
  json::Json metrics;
};

class VmmProcess {
 public:
  explicit VmmProcess(std::vector<std::string> args) {
    out_path_ = dir_.file("console.txt");
    err_path_ = dir_.file("stderr.txt");
    metrics_path_ = dir_.file("metrics.json");
    std::vector<std::string> argv = {VESSEL_VMM_PATH, "--metrics-file", metrics_path_};
    argv.insert(argv.end(), args.begin(), args.end());
    auto out = Fd::open(out_path_, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    auto err = Fd::open(err_path_, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    auto in = Fd::open("/dev/null", O_RDONLY);
    SpawnOptions opts;
    opts.stdout_fd = out->get();
    opts.stderr_fd = err->get();
    opts.stdin_fd = in->get();
    auto p = Process::spawn(argv, opts);
    if (!p) ADD_FAILURE() << p.error().to_string();
    else process_ = std::move(*p);
  }

  std::string console() const { return read_file(out_path_).value_or(""); }
  std::string errors() const { return read_file(err_path_).value_or(""); }
  Process& process() { return process_; }
  const TempDir& dir() const { return dir_; }

  // Polls the console until `needle` appears (true) or the timeout passes (false).
  bool wait_for_console(const std::string& needle, std::chrono::milliseconds timeout) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (console().find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // Waits until `path` exists (the VMM made its socket): true, or false once the VMM has exited
  // or 30 s have passed. Generous: a sanitizer build in a nested host starts in seconds.
  bool wait_for_file(const std::string& path) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (access(path.c_str(), F_OK) != 0) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      auto exited = process_.wait_for(std::chrono::milliseconds(10));
      if (exited && *exited) return access(path.c_str(), F_OK) == 0;
    }
    return true;
  }

  // Waits for exit (killing the VMM after `timeout`).
  VmmResult finish(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    VmmResult r;
    auto st = process_.wait_for(timeout);
    if (!st || !*st) {
      ADD_FAILURE() << "vessel-vmm did not exit within " << timeout.count() << " ms; console:\n" << console();
      (void)process_.signal(SIGKILL);
      r.status = process_.wait().value_or(ExitStatus{});
    } else {
      r.status = **st;
    }
    r.console = console();
    r.errors = errors();
    auto text = read_file(metrics_path_);
    if (text) {
      auto j = json::parse(*text);
      if (j) r.metrics = *j;
    }
    return r;
  }

 private:
  TempDir dir_;
  std::string out_path_, err_path_, metrics_path_;
  Process process_;
};

inline VmmResult run_vmm(std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  VmmProcess p(std::move(args));
  return p.finish(timeout);
}

}  // namespace vessel::vmm::test
