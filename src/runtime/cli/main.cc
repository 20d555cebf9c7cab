// vessel-runtime: runc's command line over the runtime library. Each command parses its flags
// and calls one function of runtime/container.h.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

#include "base/cli.h"
#include "base/fd.h"
#include "base/log.h"
#include "base/process.h"
#include "runtime/cli/args.h"
#include "runtime/cli/help.h"
#include "runtime/container.h"
#include "runtime/self_clone.h"

using namespace vessel;
using namespace vessel::runtime;
namespace rcli = vessel::runtime::cli;
using rcli::FlagSpec;
using rcli::ParsedArgs;

namespace {

constexpr const char* kProgram = "vessel-runtime";
constexpr const char* kVersion = "0.1.0";

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

Result<int> need_id(const ParsedArgs& a, const char* cmd, size_t max_extra = 0) {
  if (a.positional.empty()) return hinted(fail(EINVAL, "{}: missing CONTAINER-ID", cmd), fmt::format("see {} --help", cmd));
  if (a.positional.size() > 1 + max_extra) return fail(EINVAL, "{}: too many arguments", cmd);
  return 0;
}

Result<int64_t> parse_bytes(const std::string& text) {
  if (text == "-1") return -1;
  char* end = nullptr;
  double v = strtod(text.c_str(), &end);
  if (end == text.c_str() || v < 0) return fail(EINVAL, "invalid size \"{}\"", text);
  std::string unit(end);
  for (auto& c : unit) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  if (!unit.empty() && unit.back() == 'i') unit.pop_back();
  double mul = 1;
  if (unit == "k") mul = 1024.0;
  else if (unit == "m") mul = 1024.0 * 1024;
  else if (unit == "g") mul = 1024.0 * 1024 * 1024;
  else if (unit == "t") mul = 1024.0 * 1024 * 1024 * 1024;
  else if (!unit.empty()) return fail(EINVAL, "invalid size unit in \"{}\"", text);
  return static_cast<int64_t>(v * mul);
}

Result<int64_t> parse_int(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  long long v = strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end) return fail(EINVAL, "--{}: \"{}\" is not an integer", flag, text);
  return v;
}

const std::vector<FlagSpec> kCreateFlags = {{"bundle", 'b', true},         {"pid-file", 0, true},
                                            {"console-socket", 0, true},   {"no-pivot", 0, false},
                                            {"preserve-fds", 0, true},     {"no-new-keyring", 0, false},
                                            {"detach", 'd', false},        {"keep", 0, false},
                                            {"help", 'h', false}};

Result<CreateOptions> create_options(const ParsedArgs& a, const char* cmd) {
  TRY(need_id(a, cmd));
  CreateOptions o;
  o.id = a.positional[0];
  o.bundle = a.get("bundle", ".");
  o.pid_file = a.get("pid-file");
  o.console_socket = a.get("console-socket");
  o.no_pivot = a.has("no-pivot");
  if (a.has("preserve-fds")) o.preserve_fds = static_cast<int>(TRY(parse_int("preserve-fds", a.get("preserve-fds"))));
  if (const char* listen = getenv("LISTEN_FDS")) o.preserve_fds += atoi(listen);
  if (!o.pid_file.empty() && o.pid_file[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd)) o.pid_file = std::string(cwd) + "/" + o.pid_file;
  }
  return o;
}

template <typename J>
void print_json(const J& j) {
  std::cout << j.dump(2) << std::endl;
}

Result<int> cmd_update(const GlobalOptions& g, const ParsedArgs& a) {
  TRY(need_id(a, "update"));
  Resources r;
  if (a.has("resources")) {
    std::string path = a.get("resources");
    std::string text;
    if (path == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      text = TRY_CTX(read_file(path), "--resources");
    }
    auto doc = TRY(json::parse(text, kMaxConfigBytes, kMaxConfigDepth));
    r = TRY_CTX(parse_resources(doc, "resources"), "--resources");
  }
  auto mem = [&]() -> MemoryResources& {
    if (!r.memory) r.memory = MemoryResources{};
    return *r.memory;
  };
  auto cpu = [&]() -> CpuResources& {
    if (!r.cpu) r.cpu = CpuResources{};
    return *r.cpu;
  };
  if (a.has("memory")) mem().limit = TRY(parse_bytes(a.get("memory")));
  if (a.has("memory-swap")) mem().swap = TRY(parse_bytes(a.get("memory-swap")));
  if (a.has("memory-reservation")) mem().reservation = TRY(parse_bytes(a.get("memory-reservation")));
  if (a.has("cpu-shares")) cpu().shares = static_cast<uint64_t>(TRY(parse_int("cpu-shares", a.get("cpu-shares"))));
  if (a.has("cpu-period")) cpu().period = static_cast<uint64_t>(TRY(parse_int("cpu-period", a.get("cpu-period"))));
  if (a.has("cpu-quota")) cpu().quota = TRY(parse_int("cpu-quota", a.get("cpu-quota")));
  if (a.has("cpu-rt-period")) cpu().realtime_period = static_cast<uint64_t>(TRY(parse_int("cpu-rt-period", a.get("cpu-rt-period"))));
  if (a.has("cpu-rt-runtime")) cpu().realtime_runtime = TRY(parse_int("cpu-rt-runtime", a.get("cpu-rt-runtime")));
  if (a.has("cpuset-cpus")) cpu().cpus = a.get("cpuset-cpus");
  if (a.has("cpuset-mems")) cpu().mems = a.get("cpuset-mems");
  if (a.has("pids-limit")) r.pids_limit = TRY(parse_int("pids-limit", a.get("pids-limit")));
  if (a.has("blkio-weight")) {
    BlockIoResources io;
    io.weight = static_cast<uint16_t>(TRY(parse_int("blkio-weight", a.get("blkio-weight"))));
    r.block_io = io;
  }
  TRY(update(g, a.positional[0], r));
  return 0;
}

Result<int> cmd_ps(const GlobalOptions& g, const ParsedArgs& a) {
  if (a.positional.empty()) return fail(EINVAL, "ps: missing CONTAINER-ID");
  auto pids = TRY(ps(g, a.positional[0]));
  std::string format = a.get("format", "table");
  if (format == "json") {
    std::cout << json::Json(pids).dump() << std::endl;
    return 0;
  }
  if (format != "table") return fail(EINVAL, "ps: unknown format \"{}\"", format);
  std::vector<std::string> argv = {"ps"};
  if (a.positional.size() > 1) argv.insert(argv.end(), a.positional.begin() + 1, a.positional.end());
  else argv.push_back("-ef");
  auto out = TRY(run_capture(argv));
  std::istringstream in(out.out);
  std::string line;
  bool header = true;
  int pid_col = -1;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<std::string> cols;
    std::string w;
    while (ls >> w) cols.push_back(w);
    if (header) {
      for (size_t i = 0; i < cols.size(); ++i)
        if (cols[i] == "PID") pid_col = static_cast<int>(i);
      if (pid_col < 0) return fail(EINVAL, "ps: no PID column in the output of ps");
      std::cout << line << "\n";
      header = false;
      continue;
    }
    if (static_cast<int>(cols.size()) <= pid_col) continue;
    pid_t p = static_cast<pid_t>(atoi(cols[static_cast<size_t>(pid_col)].c_str()));
    if (std::find(pids.begin(), pids.end(), p) != pids.end()) std::cout << line << "\n";
  }
  return 0;
}

Result<int> cmd_list(const GlobalOptions& g, const ParsedArgs& a) {
  auto all = TRY(list(g));
  if (a.has("quiet")) {
    for (const auto& j : all) std::cout << j["id"].get<std::string>() << "\n";
    return 0;
  }
  if (a.get("format", "table") == "json") {
    std::cout << nlohmann::ordered_json(all).dump() << std::endl;
    return 0;
  }
  std::printf("%-24s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
  for (const auto& j : all)
    std::printf("%-24s %-8d %-10s %-40s %-32s %s\n", j["id"].get<std::string>().c_str(), j["pid"].get<int>(),
                j["status"].get<std::string>().c_str(), j["bundle"].get<std::string>().c_str(),
                j["created"].get<std::string>().c_str(), j.value("owner", "root").c_str());
  return 0;
}

Result<int> cmd_spec(const ParsedArgs& a) {
  std::string dir = a.get("bundle", ".");
  std::string path = dir + "/config.json";
  if (access(path.c_str(), F_OK) == 0) return fail(EEXIST, "File {} exists. Remove it first", path);
  TRY(write_file(path, default_spec(a.has("rootless")).dump(2) + "\n"));
  return 0;
}

Result<int> cmd_events(const GlobalOptions& g, const ParsedArgs& a) {
  TRY(need_id(a, "events"));
  if (a.has("stats")) {
    std::cout << TRY(stats(g, a.positional[0])).dump() << std::endl;
    return 0;
  }
  std::string interval = a.get("interval", "5s");
  double secs = atof(interval.c_str());
  if (interval.find("ms") != std::string::npos) secs /= 1000;
  if (secs <= 0) secs = 5;
  for (;;) {
    auto st = state(g, a.positional[0]);
    if (!st || (*st)["status"] == "stopped") return 0;
    std::cout << TRY(stats(g, a.positional[0])).dump() << std::endl;
    std::this_thread::sleep_for(std::chrono::duration<double>(secs));
  }
}

Result<int> dispatch(const std::string& cmd, const std::vector<std::string>& args, size_t at,
                     const GlobalOptions& g, int /*argc*/, char** argv) {
  auto parse = [&](const std::vector<FlagSpec>& flags, size_t stop = 0) { return rcli::parse_args(args, at, flags, stop); };
  auto help_wanted = [&]() {
    for (size_t i = at; i < args.size(); ++i)
      if (args[i] == "--help" || args[i] == "-h") return true;
    return false;
  };
  if (cmd != "exec" && help_wanted()) {
    const char* h = rcli::command_help(cmd.c_str());
    if (!h) return fail(EINVAL, "unknown command \"{}\"", cmd);
    std::cout << h;
    return 0;
  }
  if (cmd == "create" || cmd == "run") {
    TRY(ensure_sealed_self(argv));
    auto a = TRY(parse(kCreateFlags));
    CreateOptions o = TRY(create_options(a, cmd.c_str()));
    if (cmd == "create") return create(g, o);
    o.detach = a.has("detach");
    return run(g, o);
  }
  if (cmd == "start" || cmd == "state" || cmd == "pause" || cmd == "resume") {
    auto a = TRY(parse({{"help", 'h', false}}));
    TRY(need_id(a, cmd.c_str()));
    const std::string& id = a.positional[0];
    if (cmd == "start") TRY(start(g, id));
    else if (cmd == "state") print_json(TRY(state(g, id)));
    else if (cmd == "pause") TRY(pause(g, id));
    else TRY(resume(g, id));
    return 0;
  }
  if (cmd == "kill") {
    auto a = TRY(parse({{"all", 'a', false}, {"help", 'h', false}}));
    TRY(need_id(a, "kill", 1));
    int sig = TRY(parse_signal(a.positional.size() > 1 ? a.positional[1] : "TERM"));
    TRY(kill(g, a.positional[0], sig, a.has("all")));
    return 0;
  }
  if (cmd == "delete") {
    auto a = TRY(parse({{"force", 'f', false}, {"help", 'h', false}}));
    TRY(need_id(a, "delete"));
    TRY(remove(g, a.positional[0], a.has("force")));
    return 0;
  }
  if (cmd == "exec") {
    const std::vector<FlagSpec> flags = {
        {"process", 'p', true},     {"tty", 't', false},          {"console-socket", 0, true},
        {"pid-file", 0, true},      {"detach", 'd', false},       {"env", 'e', true},
        {"cwd", 0, true},           {"user", 'u', true},          {"additional-gids", 'g', true},
        {"cap", 'c', true},         {"no-new-privs", 0, false},   {"preserve-fds", 0, true},
        {"process-label", 0, true}, {"apparmor", 0, true},        {"ignore-paused", 0, false},
        {"cgroup", 0, true},        {"help", 'h', false}};
    auto a = TRY(parse(flags, 1));
    if (a.has("help")) {
      std::cout << rcli::command_help("exec");
      return 0;
    }
    TRY(ensure_sealed_self(argv));
    if (a.positional.empty()) return fail(EINVAL, "exec: missing CONTAINER-ID");
    ExecOptions o;
    o.id = a.positional[0];
    o.args.assign(a.positional.begin() + 1, a.positional.end());
    o.process_file = a.get("process");
    o.tty = a.has("tty");
    o.console_socket = a.get("console-socket");
    o.pid_file = a.get("pid-file");
    o.detach = a.has("detach");
    o.env = a.all("env");
    o.cwd = a.get("cwd");
    o.user = a.get("user");
    for (const auto& gid : a.all("additional-gids")) o.additional_gids.push_back(static_cast<uint32_t>(TRY(parse_int("additional-gids", gid))));
    o.caps = a.all("cap");
    o.no_new_privs = a.has("no-new-privs");
    o.ignore_paused = a.has("ignore-paused");
    if (a.has("preserve-fds")) o.preserve_fds = static_cast<int>(TRY(parse_int("preserve-fds", a.get("preserve-fds"))));
    return exec(g, o);
  }
  if (cmd == "ps") return cmd_ps(g, TRY(parse({{"format", 'f', true}, {"help", 'h', false}}, 1)));
  if (cmd == "update") {
    return cmd_update(g, TRY(parse({{"resources", 'r', true},      {"memory", 0, true},
                                    {"memory-swap", 0, true},      {"memory-reservation", 0, true},
                                    {"kernel-memory", 0, true},    {"kernel-memory-tcp", 0, true},
                                    {"cpu-shares", 0, true},       {"cpu-period", 0, true},
                                    {"cpu-quota", 0, true},        {"cpu-rt-period", 0, true},
                                    {"cpu-rt-runtime", 0, true},   {"cpuset-cpus", 0, true},
                                    {"cpuset-mems", 0, true},      {"pids-limit", 0, true},
                                    {"blkio-weight", 0, true},     {"l3-cache-schema", 0, true},
                                    {"mem-bw-schema", 0, true},    {"help", 'h', false}})));
  }
  if (cmd == "events") return cmd_events(g, TRY(parse({{"stats", 0, false}, {"interval", 0, true}, {"help", 'h', false}})));
  if (cmd == "list") return cmd_list(g, TRY(parse({{"quiet", 'q', false}, {"format", 'f', true}, {"help", 'h', false}})));
  if (cmd == "spec") return cmd_spec(TRY(parse({{"bundle", 'b', true}, {"rootless", 0, false}, {"help", 'h', false}})));
  if (cmd == "features") {
    print_json(features());
    return 0;
  }
  return hinted(fail(EINVAL, "unknown command \"{}\"", cmd), "see vessel-runtime --help");
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
  if (ga->get("cgroup-manager") == "systemd") g.systemd_cgroup = true;
  std::string cmd = args[i];
  auto r = dispatch(cmd, args, i + 1, g, argc, argv);
  if (!r) {
    report(r.error());
    // Like runc: exec's own failures are 255, so they differ from the process's exit codes.
    return cmd == "exec" ? 255 : vessel::cli::kExitFailure;
  }
  return *r;
}
