#include "vmm/snapshot/uffd_protocol.h"

#include <algorithm>

#include "base/json.h"

namespace vessel::vmm::snapshot {
namespace {

constexpr uint64_t k4K = 4096, k2M = 2ull << 20;

Result<UffdRegion> decode_region(const json::Json& j, const std::string& where) {
  if (!j.is_object()) return fail(EINVAL, "{}: expected an object, got {}", where, json::type_name(j));
  TRY(json::reject_unknown(j, where, {"base_host_virt_addr", "size", "offset", "page_size", "page_size_kib"}));
  UffdRegion r;
  r.base_host_virt_addr = TRY(json::get_uint(j, where, "base_host_virt_addr"));
  r.size = TRY(json::get_uint(j, where, "size"));
  r.offset = TRY(json::get_uint(j, where, "offset"));
  auto bytes = TRY(json::opt_uint(j, where, "page_size"));
  auto kib = TRY(json::opt_uint(j, where, "page_size_kib"));
  if (!bytes && !kib) return fail(EINVAL, "{}: page_size is missing", where);
  if (kib && *kib > k2M) return fail(EINVAL, "{}.page_size_kib: {} is not 4 or 2048", where, *kib);
  // Firecracker 1.10+ sends both, and page_size_kib in bytes too (a deprecated copy).
  if (bytes && kib && *bytes != *kib * 1024 && *bytes != *kib)
    return fail(EINVAL, "{}: page_size {} and page_size_kib {} disagree", where, *bytes, *kib);
  r.page_size = bytes ? *bytes : *kib * 1024;
  if (r.page_size != k4K && r.page_size != k2M)
    return fail(EINVAL, "{}.page_size: {} is not 4096 or 2097152", where, r.page_size);
  if (r.size == 0) return fail(EINVAL, "{}.size: 0", where);
  for (auto [name, v] : {std::pair{"base_host_virt_addr", r.base_host_virt_addr}, {"size", r.size}, {"offset", r.offset}})
    if (v % r.page_size != 0) return fail(EINVAL, "{}.{}: {:#x} is not a multiple of the page size {}", where, name, v, r.page_size);
  if (r.base_host_virt_addr + r.size < r.base_host_virt_addr) return fail(EINVAL, "{}: the address range wraps", where);
  if (r.offset + r.size < r.offset) return fail(EINVAL, "{}: the file range wraps", where);
  return r;
}

// Overlap of [a, a + an) and [b, b + bn), neither wrapping.
bool overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) { return a < b + bn && b < a + an; }

}  // namespace

std::string encode_uffd_regions(const std::vector<UffdRegion>& regions) {
  json::Json out = json::Json::array();
  for (const auto& r : regions)
    out.push_back({{"base_host_virt_addr", r.base_host_virt_addr},
                   {"size", r.size},
                   {"offset", r.offset},
                   {"page_size", r.page_size},
                   {"page_size_kib", r.page_size / 1024}});
  return out.dump();
}

Result<std::vector<UffdRegion>> decode_uffd_regions(std::string_view text) {
  if (text.size() > kMaxUffdMessageBytes)
    return fail(EMSGSIZE, "the memory mappings message has {} bytes (at most {})", text.size(), kMaxUffdMessageBytes);
  auto j = TRY_CTX(json::parse(text, kMaxUffdMessageBytes, 4), "the memory mappings message is not JSON");
  if (!j.is_array()) return fail(EINVAL, "the memory mappings message: expected an array of regions, got {}", json::type_name(j));
  if (j.empty()) return fail(EINVAL, "the memory mappings message has no regions");
  if (j.size() > kMaxUffdRegions) return fail(EINVAL, "the memory mappings message has {} regions (at most {})", j.size(), kMaxUffdRegions);
  std::vector<UffdRegion> out;
  for (size_t i = 0; i < j.size(); ++i) {
    std::string where = fmt::format("region {}", i);
    UffdRegion r = TRY(decode_region(j[i], where));
    for (size_t k = 0; k < out.size(); ++k) {
      if (overlap(r.base_host_virt_addr, r.size, out[k].base_host_virt_addr, out[k].size))
        return fail(EINVAL, "{} overlaps region {} in the address space", where, k);
      if (overlap(r.offset, r.size, out[k].offset, out[k].size))
        return fail(EINVAL, "{} overlaps region {} in the memory file", where, k);
    }
    out.push_back(r);
  }
  return out;
}

Result<void> check_uffd_regions_fit(const std::vector<UffdRegion>& regions, uint64_t file_size) {
  for (size_t i = 0; i < regions.size(); ++i)
    if (regions[i].offset > file_size || regions[i].size > file_size - regions[i].offset)
      return fail(EINVAL, "region {} ([{:#x}, +{:#x}) of the file) lies beyond the memory file's {} bytes", i,
                  regions[i].offset, regions[i].size, file_size);
  return {};
}

}  // namespace vessel::vmm::snapshot
