// vessel-runtime checkpoint [--image-path DIR] [--work-path DIR] [--leave-running] ... CONTAINER-ID
// vessel-runtime restore [--image-path DIR] [--bundle DIR] [--detach] [--pid-file FILE] ... CONTAINER-ID
// runc's flags; those of runc's that need CRIU features vessel-runtime does not drive (pre-dump,
// lazy pages, page server, parent images) are refused by name.
#include <unistd.h>

#include "runtime/checkpoint.h"
#include "runtime/cli/command.h"

namespace vessel::runtime::cli {

namespace {

const std::vector<FlagSpec> kCriuFlags = {
    {"image-path", 0, true},      {"work-path", 0, true},  {"tcp-established", 0, false}, {"ext-unix-sk", 0, false},
    {"shell-job", 0, false},      {"file-locks", 0, false}, {"manage-cgroups-mode", 0, true}, {"help", 'h', false},
    // runc's, refused below
    {"parent-path", 0, true},     {"pre-dump", 0, false},  {"lazy-pages", 0, false},      {"page-server", 0, true},
    {"status-fd", 0, true},       {"auto-dedup", 0, false}, {"empty-ns", 0, true},        {"lsm-profile", 0, true},
    {"lsm-mount-context", 0, true}, {"no-subreaper", 0, false}, {"no-pivot", 0, false}};

std::vector<FlagSpec> with(std::vector<FlagSpec> extra) {
  extra.insert(extra.end(), kCriuFlags.begin(), kCriuFlags.end());
  return extra;
}

std::string absolute_from_cwd(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[4096];
  return getcwd(cwd, sizeof cwd) ? std::string(cwd) + "/" + path : path;
}

Result<CriuOptions> criu_options(const ParsedArgs& a) {
  for (const char* unsupported : {"parent-path", "pre-dump", "lazy-pages", "page-server", "status-fd", "auto-dedup",
                                  "empty-ns", "lsm-profile", "lsm-mount-context"})
    if (a.has(unsupported)) return fail(ENOTSUP, "--{} is not supported by vessel-runtime", unsupported);
  CriuOptions c;
  // runc's default image path is ./checkpoint.
  c.image_path = absolute_from_cwd(a.get("image-path", "checkpoint"));
  c.work_path = absolute_from_cwd(a.get("work-path"));
  c.tcp_established = a.has("tcp-established");
  c.ext_unix_sk = a.has("ext-unix-sk");
  c.shell_job = a.has("shell-job");
  c.file_locks = a.has("file-locks");
  c.manage_cgroups_mode = a.get("manage-cgroups-mode");
  if (!c.manage_cgroups_mode.empty() && c.manage_cgroups_mode != "soft" && c.manage_cgroups_mode != "full" &&
      c.manage_cgroups_mode != "strict" && c.manage_cgroups_mode != "ignore")
    return fail(EINVAL, "--manage-cgroups-mode: \"{}\" is not soft, full, strict or ignore", c.manage_cgroups_mode);
  return c;
}

}  // namespace

Result<int> cmd_checkpoint(const Invocation& in) {
  auto a = TRY(in.parse(with({{"leave-running", 0, false}})));
  TRY(need_id(a, "checkpoint"));
  CheckpointOptions o;
  o.id = a.positional[0];
  o.criu = TRY(criu_options(a));
  o.leave_running = a.has("leave-running");
  TRY(checkpoint(in.g, o));
  return 0;
}

Result<int> cmd_restore(const Invocation& in) {
  auto a = TRY(in.parse(with({{"bundle", 'b', true}, {"detach", 'd', false}, {"pid-file", 0, true},
                              {"console-socket", 0, true}})));
  TRY(need_id(a, "restore"));
  if (a.has("console-socket")) return fail(ENOTSUP, "--console-socket: restoring a terminal is not supported");
  RestoreOptions o;
  o.id = a.positional[0];
  o.criu = TRY(criu_options(a));
  o.bundle = a.get("bundle", ".");
  o.detach = a.has("detach");
  o.pid_file = absolute_from_cwd(a.get("pid-file"));
  return restore(in.g, o);
}

}  // namespace vessel::runtime::cli
