// Shared by the console and exit-status tests: paths, polling, the VM and container set-ups.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <thread>

#include "daemon_fixture.h"
#include "vm_test_kit.h"

namespace vessel::test {

// `vessel ARGS` with its stdin fed from `input` (through sh and printf).
inline CliResult vessel_with_input(const Daemon& d, const std::string& input, const std::vector<std::string>& args) {
  std::string cmd = "printf '%s' \"$INPUT\" | \"$@\"";
  std::vector<std::string> argv{"/usr/bin/env", "INPUT=" + input, "/bin/sh", "-c", cmd, "sh", vessel_path(), "--socket", d.socket()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

// `vessel ARGS` on a pseudo-terminal driven by pty_drive.py steps (expect:/send:/resize:/sleep:).
inline CliResult vessel_on_pty(const Daemon& d, const std::vector<std::string>& steps, const std::vector<std::string>& args,
                               const std::vector<std::string>& pty_options = {}) {
  std::vector<std::string> argv{"/usr/bin/python3", PTY_DRIVE};
  argv.insert(argv.end(), pty_options.begin(), pty_options.end());
  argv.insert(argv.end(), steps.begin(), steps.end());
  argv.insert(argv.end(), {"--", vessel_path(), "--socket", d.socket()});
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

class VmDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access(vmm().c_str(), X_OK), 0) << vmm() << " is not built";
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  TempDir tmp;
  Daemon daemon{tmp.path, {"--vmm", vmm()}};
};

class ContainerDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    rootfs = tmp.path + "/rootfs";
    make_busybox_rootfs(rootfs);
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  TempDir tmp;
  std::string rootfs;
  Daemon daemon{tmp.path};
};

}  // namespace vessel::test
