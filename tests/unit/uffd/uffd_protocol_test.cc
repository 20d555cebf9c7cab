// The Uffd backend's message (vmm/snapshot/uffd_protocol.h): what vessel-vmm sends decodes to
// the same regions; Firecracker's spellings are read; every malformed message is refused with
// the region and field it is about.
#include <gtest/gtest.h>

#include "vmm/snapshot/uffd_protocol.h"

namespace vessel::vmm::snapshot {
namespace {

TEST(UffdProtocol, WhatTheVmmSendsDecodesToTheSameRegions) {
  std::vector<UffdRegion> regions = {{0x7f0000000000, 3ull << 30, 0, 4096}, {0x7f00c0000000, 1ull << 30, 3ull << 30, 4096}};
  auto back = decode_uffd_regions(encode_uffd_regions(regions));
  ASSERT_TRUE(back) << back.error().to_string();
  ASSERT_EQ(back->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*back)[i].base_host_virt_addr, regions[i].base_host_virt_addr);
    EXPECT_EQ((*back)[i].size, regions[i].size);
    EXPECT_EQ((*back)[i].offset, regions[i].offset);
    EXPECT_EQ((*back)[i].page_size, 4096u);
  }
  // Both of Firecracker's spellings are in it, so either generation of handler reads it.
  std::string text = encode_uffd_regions(regions);
  EXPECT_NE(text.find("\"page_size\":4096"), std::string::npos) << text;
  EXPECT_NE(text.find("\"page_size_kib\":4"), std::string::npos) << text;
}

TEST(UffdProtocol, FirecrackersSpellingsAreRead) {
  auto kib = decode_uffd_regions(R"([{"base_host_virt_addr": 2097152, "size": 4194304, "offset": 0, "page_size_kib": 2048}])");
  ASSERT_TRUE(kib) << kib.error().to_string();
  EXPECT_EQ((*kib)[0].page_size, 2u << 20);
  auto bytes = decode_uffd_regions(R"([{"base_host_virt_addr": 4096, "size": 8192, "offset": 4096, "page_size": 4096}])");
  ASSERT_TRUE(bytes) << bytes.error().to_string();
  EXPECT_EQ((*bytes)[0].offset, 4096u);
  // Firecracker 1.10+: the deprecated page_size_kib holds bytes as well.
  auto both = decode_uffd_regions(
      R"([{"base_host_virt_addr": 4096, "size": 8192, "offset": 0, "page_size": 4096, "page_size_kib": 4096}])");
  ASSERT_TRUE(both) << both.error().to_string();
  EXPECT_EQ((*both)[0].page_size, 4096u);
}

TEST(UffdProtocol, MalformedMessagesAreRefusedWithTheirReason) {
  const std::string ok = R"("base_host_virt_addr": 4096, "size": 8192, "offset": 0, "page_size": 4096)";
  struct Case {
    std::string text, message;
  };
  const Case cases[] = {
      {"", "not JSON"},
      {"garbage", "not JSON"},
      {"{}", "expected an array of regions, got object"},
      {"[]", "has no regions"},
      {"[1]", "region 0: expected an object, got number"},
      {"[{" + ok + R"(, "extra": 1}])", "extra"},
      {R"([{"size": 8192, "offset": 0, "page_size": 4096}])", "base_host_virt_addr"},
      {R"([{"base_host_virt_addr": 4096, "size": 8192, "offset": 0}])", "region 0: page_size is missing"},
      {R"([{"base_host_virt_addr": -4096, "size": 8192, "offset": 0, "page_size": 4096}])", "base_host_virt_addr"},
      {R"([{"base_host_virt_addr": "4096", "size": 8192, "offset": 0, "page_size": 4096}])", "base_host_virt_addr"},
      {R"([{"base_host_virt_addr": 4096, "size": 8192, "offset": 0, "page_size": 8192}])", "page_size: 8192 is not 4096 or 2097152"},
      {R"([{"base_host_virt_addr": 4096, "size": 8192, "offset": 0, "page_size": 4096, "page_size_kib": 2048}])", "disagree"},
      {R"([{"base_host_virt_addr": 4097, "size": 8192, "offset": 0, "page_size": 4096}])", "base_host_virt_addr: 0x1001 is not a multiple"},
      {R"([{"base_host_virt_addr": 4096, "size": 0, "offset": 0, "page_size": 4096}])", "region 0.size: 0"},
      {R"([{"base_host_virt_addr": 4096, "size": 100, "offset": 0, "page_size": 4096}])", "size: 0x64 is not a multiple"},
      {R"([{"base_host_virt_addr": 18446744073709547520, "size": 8192, "offset": 0, "page_size": 4096}])", "the address range wraps"},
      {R"([{"base_host_virt_addr": 4096, "size": 8192, "offset": 18446744073709547520, "page_size": 4096}])", "the file range wraps"},
      {"[{" + ok + R"(}, {"base_host_virt_addr": 8192, "size": 4096, "offset": 65536, "page_size": 4096}])",
       "region 1 overlaps region 0 in the address space"},
      {"[{" + ok + R"(}, {"base_host_virt_addr": 65536, "size": 4096, "offset": 4096, "page_size": 4096}])",
       "region 1 overlaps region 0 in the memory file"},
      {"[[[[[[[[1]]]]]]]]", "nested deeper"},
      {std::string(70000, ' '), "at most"},
  };
  for (const auto& c : cases) {
    auto r = decode_uffd_regions(c.text);
    ASSERT_FALSE(r) << c.text;
    EXPECT_NE(r.error().to_string().find(c.message), std::string::npos) << c.text << " -> " << r.error().to_string();
  }
  std::string many = "[";
  for (int i = 0; i < 65; ++i)
    many += fmt::format(R"({}{{"base_host_virt_addr": {}, "size": 4096, "offset": {}, "page_size": 4096}})", i ? "," : "",
                        4096 * (i + 1), 4096 * i);
  auto r = decode_uffd_regions(many + "]");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("65 regions (at most 64)"), std::string::npos) << r.error().to_string();
}

TEST(UffdProtocol, RegionsMustLieInsideTheMemoryFile) {
  std::vector<UffdRegion> regions = {{4096, 8192, 4096, 4096}};
  EXPECT_TRUE(check_uffd_regions_fit(regions, 12288));
  auto r = check_uffd_regions_fit(regions, 8192);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("lies beyond the memory file's 8192 bytes"), std::string::npos) << r.error().to_string();
  EXPECT_FALSE(check_uffd_regions_fit({{4096, 8192, 1ull << 40, 4096}}, 8192));
}

}  // namespace
}  // namespace vessel::vmm::snapshot
