// Output helpers for people: aligned tables, sizes, durations, the spec built from flags, and
// a progress bar for image import.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::cli {

// Columns padded to the widest cell; the last column is not padded.
std::string render_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
std::string human_bytes(uint64_t bytes);
// "KEY=VALUE" -> (KEY, VALUE); EINVAL without '=' or with an empty key.
Result<std::pair<std::string, std::string>> parse_key_value(const std::string& text, const char* what);
// "256", "256M", "1G" (MiB by default) -> MiB.
Result<uint64_t> parse_memory_mib(const std::string& text);
// "[#####.....]  50% unpack 1/2"
std::string progress_bar(uint64_t done, uint64_t total, const std::string& step, int width = 30);
// The listing table of instances (`vessel ls`) is in cli/instance_list.h.
std::string images_table(const json::Json& list);

}  // namespace vessel::cli
