// Fuzzes the parser of vessel-checkpoint.json, which restore reads from an image directory that
// may come from an imported file (runtime/checkpoint.h). A parsed document must survive a round
// trip, and building CRIU's restore command line from it must not crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto meta = vessel::runtime::CheckpointMeta::parse(text);
  if (!meta) return 0;
  auto again = vessel::runtime::CheckpointMeta::parse(meta->to_json().dump());
  if (!again || again->descriptors != meta->descriptors || again->external_mounts != meta->external_mounts) __builtin_trap();
  vessel::runtime::Spec spec;
  vessel::runtime::RestoreOptions o;
  o.criu.image_path = "/img";
  (void)vessel::runtime::criu_restore_argv("criu", "/root", spec, o, *meta, 3, "/pid");
  return 0;
}
