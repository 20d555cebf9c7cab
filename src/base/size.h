// Sizes that people type: a number and an optional binary unit ("10G", "512", "1.5g", "256MiB").
// One grammar for the three places that read them (vessel-img, vessel-runtime update, the vessel
// CLI's memory sizes); each says which units it takes, what a bare number counts and whether a
// fraction is allowed, so each keeps the input it always accepted, and words its own errors.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/error.h"

namespace vessel {

struct SizeSyntax {
  std::string_view units = "bkmgtpe";  // unit letters taken, in any case; powers of 1024 (b: bytes)
  bool long_units = false;             // "KiB", "KB", "Ki" (any case) as well as "K"
  bool fractions = false;              // "1.5G" (strtod's numbers), rounded down to a byte
  bool lenient = false;                // leading blanks and a '+' before the number
  uint64_t bare_unit = 1;              // what a number without a unit counts (1 << 20: MiB)
};

enum class SizeProblem { Empty, NotANumber, BadUnit, Trailing, TooLarge };

// Bytes, or what is wrong. `unit` (when given) gets the text after the number.
tl::expected<uint64_t, SizeProblem> scan_size(std::string_view text, const SizeSyntax& syntax = {},
                                              std::string_view* unit = nullptr);

// scan_size with qemu-img's messages (vessel-img's wording).
Result<uint64_t> parse_size(std::string_view text, const SizeSyntax& syntax = {});

}  // namespace vessel
