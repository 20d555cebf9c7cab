// Fuzzes the bounded JSON reader every API and config parser goes through: any input gives a
// value or an error, never a crash, a hang, or a stack overflow.
#include <cstdint>
#include <string_view>

#include "base/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto j = vessel::json::parse(text, 1 << 20, 32);
  if (j) {
    (void)vessel::json::opt_uint(*j, "fuzz", "a");
    (void)vessel::json::opt_string(*j, "fuzz", "b");
    (void)vessel::json::reject_unknown(*j, "fuzz", {"a", "b"});
    if (vessel::json::depth(*j) > 32) __builtin_trap();
  }
  return 0;
}
