// base/size.h: every input that one of its three callers accepted before it existed (vessel-img's
// parse_size, vessel-runtime update's parse_bytes, the CLI's parse_memory_mib), read with that
// caller's syntax, gives the value that caller gave; and what each refused stays refused.
#include "base/size.h"

#include <gtest/gtest.h>

namespace vessel {
namespace {

const SizeSyntax kImg{};  // vessel-img: integers, b K M G T P E
const SizeSyntax kRuntime{.units = "bkmgt", .long_units = true, .fractions = true};
const SizeSyntax kCliMib{.units = "mg", .long_units = true, .lenient = true, .bare_unit = 1u << 20};

uint64_t ok(std::string_view text, const SizeSyntax& s) {
  auto r = scan_size(text, s);
  EXPECT_TRUE(r) << text;
  return r ? *r : ~uint64_t{0};
}

SizeProblem bad(std::string_view text, const SizeSyntax& s) {
  auto r = scan_size(text, s);
  EXPECT_FALSE(r) << text << " gave " << (r ? *r : 0);
  return r ? SizeProblem::Empty : r.error();
}

TEST(Size, ImgSizes) {
  EXPECT_EQ(ok("0", kImg), 0u);
  EXPECT_EQ(ok("512", kImg), 512u);
  EXPECT_EQ(ok("1024b", kImg), 1024u);
  EXPECT_EQ(ok("1024B", kImg), 1024u);
  EXPECT_EQ(ok("64k", kImg), 64u << 10);
  EXPECT_EQ(ok("64K", kImg), 64u << 10);
  EXPECT_EQ(ok("3m", kImg), 3u << 20);
  EXPECT_EQ(ok("10G", kImg), 10ull << 30);
  EXPECT_EQ(ok("2T", kImg), 2ull << 40);
  EXPECT_EQ(ok("2p", kImg), 2ull << 50);
  EXPECT_EQ(ok("15E", kImg), 15ull << 60);
  EXPECT_EQ(ok("18446744073709551615", kImg), UINT64_MAX);
  EXPECT_EQ(bad("", kImg), SizeProblem::Empty);
  EXPECT_EQ(bad("G", kImg), SizeProblem::NotANumber);
  EXPECT_EQ(bad("+5", kImg), SizeProblem::NotANumber);
  EXPECT_EQ(bad(" 5", kImg), SizeProblem::NotANumber);
  EXPECT_EQ(bad("1.5G", kImg), SizeProblem::BadUnit);
  EXPECT_EQ(bad("10X", kImg), SizeProblem::BadUnit);
  EXPECT_EQ(bad("10GG", kImg), SizeProblem::Trailing);
  EXPECT_EQ(bad("10GiB", kImg), SizeProblem::Trailing);
  EXPECT_EQ(bad("99999999999999999999", kImg), SizeProblem::TooLarge);
  EXPECT_EQ(bad("16E", kImg), SizeProblem::TooLarge);
}

TEST(Size, ImgMessagesAreQemuImgs) {
  EXPECT_EQ(parse_size("").error().message(), "empty size");
  EXPECT_EQ(parse_size("10X").error().message(), "invalid size suffix in '10X'");
  EXPECT_EQ(parse_size("10GG").error().message(), "invalid size '10GG'");
  EXPECT_EQ(parse_size("16E").error().errnum(), ERANGE);
  EXPECT_EQ(parse_size("x").error().message(),
            "invalid size 'x': expected a number with an optional K, M, G, T, P or E suffix");
}

TEST(Size, RuntimeSizes) {
  EXPECT_EQ(ok("0", kRuntime), 0u);
  EXPECT_EQ(ok("4096", kRuntime), 4096u);
  EXPECT_EQ(ok("100b", kRuntime), 100u);
  EXPECT_EQ(ok("512k", kRuntime), 512u << 10);
  EXPECT_EQ(ok("512kb", kRuntime), 512u << 10);
  EXPECT_EQ(ok("512KiB", kRuntime), 512u << 10);
  EXPECT_EQ(ok("512Ki", kRuntime), 512u << 10);
  EXPECT_EQ(ok("64m", kRuntime), 64u << 20);
  EXPECT_EQ(ok("64MB", kRuntime), 64u << 20);
  EXPECT_EQ(ok("1.5g", kRuntime), 3ull << 29);
  EXPECT_EQ(ok("1.5GiB", kRuntime), 3ull << 29);
  EXPECT_EQ(ok("0.5k", kRuntime), 512u);
  EXPECT_EQ(ok("2t", kRuntime), 2ull << 40);
  EXPECT_EQ(ok(" 7", kRuntime), 7u);  // strtod's leading blanks
  EXPECT_EQ(ok("1e3", kRuntime), 1000u);
  EXPECT_EQ(bad("", kRuntime), SizeProblem::Empty);
  EXPECT_EQ(bad("m", kRuntime), SizeProblem::NotANumber);
  EXPECT_EQ(bad("-5", kRuntime), SizeProblem::NotANumber);
  EXPECT_EQ(bad("5x", kRuntime), SizeProblem::BadUnit);
  EXPECT_EQ(bad("5p", kRuntime), SizeProblem::BadUnit);
  EXPECT_EQ(bad("5kk", kRuntime), SizeProblem::BadUnit);
  EXPECT_EQ(bad("5bb", kRuntime), SizeProblem::BadUnit);
  EXPECT_EQ(bad("5 k", kRuntime), SizeProblem::BadUnit);
  EXPECT_EQ(bad("1e30", kRuntime), SizeProblem::TooLarge);
}

TEST(Size, CliMemoryIsMibWithoutAUnit) {
  EXPECT_EQ(ok("256", kCliMib), 256ull << 20);
  EXPECT_EQ(ok("512M", kCliMib), 512ull << 20);
  EXPECT_EQ(ok("512m", kCliMib), 512ull << 20);
  EXPECT_EQ(ok("512MiB", kCliMib), 512ull << 20);
  EXPECT_EQ(ok("2G", kCliMib), 2ull << 30);
  EXPECT_EQ(ok("2g", kCliMib), 2ull << 30);
  EXPECT_EQ(ok("2GiB", kCliMib), 2ull << 30);
  EXPECT_EQ(ok(" 64", kCliMib), 64ull << 20);  // std::stoull's leading blanks and sign
  EXPECT_EQ(ok("+64", kCliMib), 64ull << 20);
  EXPECT_EQ(bad("lots", kCliMib), SizeProblem::NotANumber);
  EXPECT_EQ(bad("1.5G", kCliMib), SizeProblem::BadUnit);
  EXPECT_EQ(bad("5T", kCliMib), SizeProblem::BadUnit);
  EXPECT_EQ(bad("5K", kCliMib), SizeProblem::BadUnit);
  EXPECT_EQ(bad("5b", kCliMib), SizeProblem::BadUnit);
  EXPECT_EQ(bad("99999999999999G", kCliMib), SizeProblem::TooLarge);
}

TEST(Size, TheUnitIsHandedBack) {
  std::string_view unit;
  EXPECT_FALSE(scan_size("5Q", kCliMib, &unit));
  EXPECT_EQ(unit, "Q");
}

}  // namespace
}  // namespace vessel
