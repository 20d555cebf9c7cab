// Fuzzes what a client sends about pools (docs/daemon/pools.md): a POST /v1/pools body, a PATCH
// body over an existing pool, an instance's "pool" membership; and runs what parses through the
// allocation policies, whose results must stay within the pool. The first byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/policy/allocation.h"
#include "daemon/policy/pool_spec.h"
#include "daemon/policy/timeslice.h"
#include "daemon/spec/pool_membership.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vessel::daemon;
  using namespace vessel;
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto spec = parse_pool_spec_text(text);
      if (!spec) break;
      // Three members of the parsed pool: what is handed out never exceeds it.
      std::vector<PoolMember> members(3);
      for (size_t i = 0; i < members.size(); ++i) {
        members[i].name = "m" + std::to_string(i);
        members[i].share = static_cast<double>(i + 1);
        members[i].priority = static_cast<int>(i % 2);
        members[i].quota = {0.01, 4096};
        members[i].max = Resources{1.0, uint64_t{1} << 28};
      }
      auto a = allocate(spec->shape(), members);
      if (a) {
        double cpus = 0;
        uint64_t bytes = 0;
        for (const auto& x : *a) cpus += x.amount.cpus, bytes += x.amount.memory_bytes;
        if (cpus > spec->cpus + 1e-6 || bytes > spec->shape().size.memory_bytes) __builtin_trap();
        // The turns of a round never add up to more than the round.
        std::vector<SliceMember> turns;
        for (const auto& x : *a) turns.push_back({x.name, "/p/" + x.name, x.amount.cpus, 1, 0});
        uint64_t round = spec->round_ms * 1'000'000, sum = 0;
        for (const auto& t : slice_schedule(turns, round).members) sum += t.slice_ns;
        if (sum > round) __builtin_trap();
      }
      break;
    }
    case 1: {
      auto body = json::parse(text, 1 << 16);
      if (body) (void)parse_pool_update(*body, PoolSpec{"p", 1, 1024});
      break;
    }
    case 2: {
      auto body = json::parse(text, 1 << 16);
      if (body) (void)parse_pool_membership(*body);
      break;
    }
  }
  return 0;
}
