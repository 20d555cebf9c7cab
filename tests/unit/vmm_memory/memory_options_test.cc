// Guest memory options (docs/vmm/memory.md) without a VM: machine-config's huge_pages and ksm,
// the huge page pool's error, and KSM's counters as /proc/self/ksm_stat gives them.
#include <gtest/gtest.h>

#include "vmm/api/vm_config.h"
#include "vmm/memory/huge_pages.h"
#include "vmm/memory/ksm_stats.h"

namespace vessel::vmm {
namespace {

Result<MachineConfig> parse(const std::string& text) {
  return parse_machine_config(json::parse(text).value(), MachineConfig{});
}

TEST(MemoryOptions, HugePagesAndKsmParseAndRoundTrip) {
  auto m = parse(R"({"vcpu_count": 1, "mem_size_mib": 128, "huge_pages": "2M"})");
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(m->huge_pages, HugePages::TwoMiB);
  EXPECT_EQ(to_json(*m)["huge_pages"], "2M");
  auto none = parse(R"({"huge_pages": "None", "ksm": true})");
  ASSERT_TRUE(none) << none.error().to_string();
  EXPECT_EQ(none->huge_pages, HugePages::None);
  EXPECT_TRUE(none->ksm);
  EXPECT_FALSE(to_json(*none).contains("huge_pages"));
  EXPECT_EQ(to_json(*none)["ksm"], true);
  auto again = parse(to_json(*m).dump());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->huge_pages, HugePages::TwoMiB);
}

TEST(MemoryOptions, BadCombinationsAreRefusedWithTheirReason) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {R"({"huge_pages": "1G"})", "machine-config.huge_pages: '1G' is not None or 2M"},
      {R"({"huge_pages": 2})", "huge_pages"},
      {R"({"mem_size_mib": 127, "huge_pages": "2M"})", "127 MiB is not a multiple of the 2 MiB huge page"},
      {R"({"huge_pages": "2M", "ksm": true})", "KSM does not merge hugetlbfs pages"},
      {R"({"ksm": "yes"})", "ksm"},
  };
  for (const auto& c : cases) {
    auto m = parse(c.text);
    ASSERT_FALSE(m) << c.text;
    EXPECT_NE(m.error().to_string().find(c.message), std::string::npos) << c.text << " -> " << m.error().to_string();
  }
}

TEST(MemoryOptions, AShortPoolSaysHowManyPagesToAdd) {
  HugePagePool pool{.total = 40, .free = 30, .reserved = 10};
  EXPECT_EQ(pool.available(), 20u);
  Error e = huge_pages_error(ENOMEM, 128ull << 20, pool);
  std::string text = e.to_string();
  EXPECT_NE(text.find("guest memory of 128 MiB needs 64 huge pages of 2 MiB; the host has 20 available (40 in its pool, "
                      "30 free, 10 reserved by other mappings)"),
            std::string::npos)
      << text;
  EXPECT_NE(e.hint().find("add at least 44 to the pool: sysctl vm.nr_hugepages=84"), std::string::npos) << e.hint();
}

TEST(MemoryOptions, KsmStatIsParsed) {
  auto c = parse_ksm_stat(
      "ksm_rmap_items 8283\nksm_zero_pages 3\nksm_merging_pages 8098\nksm_process_profit -530112\n"
      "ksm_merge_any: no\nksm_mergeable: yes\n");
  EXPECT_EQ(c.rmap_items, 8283u);
  EXPECT_EQ(c.zero_pages, 3u);
  EXPECT_EQ(c.merging_pages, 8098u);
  EXPECT_EQ(c.process_profit, -530112);
  auto old = parse_ksm_stat("ksm_rmap_items 5\n");  // an older kernel: fewer lines
  EXPECT_EQ(old.rmap_items, 5u);
  EXPECT_EQ(old.merging_pages, 0u);
  EXPECT_FALSE(old.process_profit);
  EXPECT_EQ(parse_ksm_stat("garbage\n\n x").merging_pages, 0u);
}

}  // namespace
}  // namespace vessel::vmm
