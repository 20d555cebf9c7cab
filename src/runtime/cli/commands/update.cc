// vessel-runtime update [--resources FILE|-] [--memory SIZE] [--cpu-quota N] ... CONTAINER-ID
#include <iostream>
#include <iterator>

#include "base/fd.h"
#include "base/size.h"
#include "runtime/cli/command.h"

namespace vessel::runtime::cli {

namespace {

const std::vector<FlagSpec> kUpdateFlags = {
    {"resources", 'r', true},    {"memory", 0, true},         {"memory-swap", 0, true},
    {"memory-reservation", 0, true}, {"kernel-memory", 0, true}, {"kernel-memory-tcp", 0, true},
    {"cpu-shares", 0, true},     {"cpu-period", 0, true},     {"cpu-quota", 0, true},
    {"cpu-rt-period", 0, true},  {"cpu-rt-runtime", 0, true}, {"cpuset-cpus", 0, true},
    {"cpuset-mems", 0, true},    {"pids-limit", 0, true},     {"blkio-weight", 0, true},
    {"l3-cache-schema", 0, true}, {"mem-bw-schema", 0, true}, {"help", 'h', false}};

// runc's sizes (go-units' RAMInBytes): "512m", "1.5g", "2GiB", "1024kb", "-1" for no limit.
Result<int64_t> parse_bytes(const std::string& text) {
  if (text == "-1") return -1;
  auto v = scan_size(text, {.units = "bkmgt", .long_units = true, .fractions = true});
  if (v && *v <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(*v);
  if (!v && (v.error() == SizeProblem::BadUnit || v.error() == SizeProblem::Trailing))
    return fail(EINVAL, "invalid size unit in \"{}\"", text);
  return fail(EINVAL, "invalid size \"{}\"", text);
}

}  // namespace

Result<int> cmd_update(const Invocation& in) {
  auto a = TRY(in.parse(kUpdateFlags));
  const GlobalOptions& g = in.g;
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

}  // namespace vessel::runtime::cli
