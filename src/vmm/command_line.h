// vessel-vmm's command line (--help shows it) and the VM configuration it asks for.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/error.h"
#include "vmm/api/vm_config.h"
#include "vmm/migration/token.h"

namespace vessel::vmm {

struct CommandLine {
  std::string config_file, api_sock, kernel, initrd, cmdline = "console=ttyS0 reboot=k panic=-1";
  std::string log_level = "warn", metrics_file, guest_profile, console_sock;
  std::string restore_snapshot, restore_mem;  // start from a snapshot (docs/vmm/snapshot.md)
  bool restore_paused = false;
  std::string migrate_from;  // receive a live migration (docs/vmm/migration.md)
  std::string migrate_token_file;  // the token the sender must send first (migration/token.h)
  std::string apply_diff, apply_to;  // --apply-diff DIFF_MEM --to BASE_MEM, then exit
  std::string snapshot_info;         // --snapshot-info STATE: print it, then exit
  uint32_t vcpus = 1;
  uint64_t mem_mib = 128;
  unsigned shutdown_timeout = 10;
  uint32_t virtio_poll_us = 50;
  int reboot_exit_code = 0;
  int seccomp_level = 2;  // 0: no filters; 2: a filter per thread with argument checks
  bool log_json = false;
};

// Parses argv into `out`. Returns the exit status when the program should end here (--help: 0,
// a bad command line: 1, with the message printed).
std::optional<int> parse_command_line(int argc, char** argv, CommandLine& out);

// What to run: the configuration, and whether to boot it at once (--config-file, --kernel) or to
// wait for the API's InstanceStart. Also applies --log-level and --log-json.
struct StartPlan {
  VmConfig config;
  bool boot_now = false;
  bool restore = false;  // --restore-snapshot: load it at once (config stays empty)
  bool migrate = false;  // --migrate-from: receive the VM at once (config stays empty)
  std::optional<migration::Token> migrate_token;  // --migrate-token-file's, read before the sandbox
};
Result<StartPlan> plan_start(const CommandLine& cl);

}  // namespace vessel::vmm
