// vessel-runtime: runc's command line over the runtime library. The global flags are parsed here;
// each command (cli/commands/, one file each) parses its own flags and calls one function of
// runtime/container.h.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "base/version.h"
#include "base/cli.h"
#include "base/log.h"
#include "runtime/cli/command.h"
#include "runtime/cli/help.h"
#include "runtime/linux/user_process.h"
#include "runtime/spec/spec.h"

using namespace vessel;
using namespace vessel::runtime;
namespace rcli = vessel::runtime::cli;
using rcli::FlagSpec;
using rcli::ParsedArgs;

namespace {

constexpr const char* kProgram = "vessel-runtime";

int g_log_fd = -1;

void report(const Error& e) {
  std::string text = e.to_string();
  if (!e.hint().empty()) text += " (" + e.hint() + ")";
  vessel::cli::print_error(kProgram, e);
  if (g_log_fd >= 0) {
    log::set_fd(g_log_fd);
    log::error("{}", text);
  }
}

// runc's behaviour: any command (but exec) with --help or -h prints that command's help.
bool help_wanted(const std::vector<std::string>& args, size_t at) {
  for (size_t i = at; i < args.size(); ++i)
    if (args[i] == "--help" || args[i] == "-h") return true;
  return false;
}

Result<int> dispatch(const std::string& cmd, const std::vector<std::string>& args, size_t at,
                     const GlobalOptions& g, char** argv) {
  const rcli::Command* c = rcli::find_command(cmd);
  if (!(c && c->own_help) && help_wanted(args, at)) {
    const char* h = rcli::command_help(cmd.c_str());
    if (!h) return fail(EINVAL, "unknown command \"{}\"", cmd);
    std::cout << h;
    return 0;
  }
  if (!c) return hinted(fail(EINVAL, "unknown command \"{}\"", cmd), "see vessel-runtime --help");
  return c->run(rcli::Invocation{g, args, at, argv});
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program(kProgram);
  std::vector<std::string> args(argv, argv + argc);
  GlobalOptions g;
  std::string log_path, log_format = "text";
  const std::vector<FlagSpec> globals = {
      {"root", 0, true},           {"log", 0, true},       {"log-format", 0, true},
      {"debug", 0, false},         {"systemd-cgroup", 0, false}, {"rootless", 0, true},
      {"criu", 0, true},           {"cgroup-manager", 0, true},  {"version", 'v', false},
      {"help", 'h', false},        {"log-level", 0, true}};
  // Global flags come before the command.
  size_t i = 1;
  std::vector<std::string> global_args = {args[0]};
  while (i < args.size() && args[i].size() > 1 && args[i][0] == '-') {
    global_args.push_back(args[i]);
    bool has_eq = args[i].find('=') != std::string::npos;
    std::string name = args[i].substr(args[i][1] == '-' ? 2 : 1);
    bool takes = false;
    for (const auto& f : globals)
      if (name == f.name && f.takes_value) takes = true;
    if (takes && !has_eq && i + 1 < args.size()) global_args.push_back(args[++i]);
    ++i;
  }
  auto ga = rcli::parse_args(global_args, 1, globals);
  if (!ga) {
    report(ga.error());
    return vessel::cli::kExitUsage;
  }
  if (ga->has("version")) {
    std::printf("vessel-runtime version %s\nspec: %s\n", kVersion, kOciVersion);
    return 0;
  }
  if (ga->has("help") || i >= args.size()) {
    std::cout << rcli::main_help();
    return ga->has("help") ? 0 : vessel::cli::kExitUsage;
  }
  g.root = ga->get("root", kDefaultRoot);
  log_path = ga->get("log");
  log_format = ga->get("log-format", "text");
  if (log_format != "text" && log_format != "json") {
    report(Error(EINVAL, fmt::format("--log-format: \"{}\" is not text or json", log_format)));
    return vessel::cli::kExitUsage;
  }
  if (log_format == "json") log::set_format(log::Format::Json);
  if (ga->has("debug")) log::set_level(log::Level::Debug);
  if (!log_path.empty()) {
    g_log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (g_log_fd >= 0) log::set_fd(g_log_fd);
  }
  g.systemd_cgroup = ga->has("systemd-cgroup");
  g.criu = ga->get("criu", "criu");
  if (ga->get("cgroup-manager") == "systemd") g.systemd_cgroup = true;
  std::string cmd = args[i];
  auto r = dispatch(cmd, args, i + 1, g, argv);
  if (!r) {
    report(r.error());
    // A command that cannot run: 127 or 126, as a shell (and Docker) says. Otherwise, like runc,
    // exec's own failures are 255, so they differ from the process's exit codes.
    if (int status = vessel::runtime::noted_command_status()) return status;
    return cmd == "exec" ? 255 : vessel::cli::kExitFailure;
  }
  return *r;
}
