// The operations behind vessel-img, as a library so that tests call them directly, one file per
// verb in block/ops/. Each takes plain options and returns a Result; printing is the CLI's job
// (src/img).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/size.h"
#include "block/block_backend.h"
#include "block/qcow2_check.h"
#include "block/qcow2_create.h"

namespace vessel::block {

// What every verb's opens share: which backing files an image may bring in (vessel-img's default
// is qemu-img's rule, BackingPolicy::Follow) and -U (--force-share: read-only opens take no
// locks that exclude writers, image_lock.h).
struct Access {
  BackingPolicy backing = BackingPolicy::Follow;
  bool force_share = false;
  OpenOptions reading() const {
    OpenOptions o;
    o.read_only = true;
    o.backing = backing;
    o.force_share = force_share;
    return o;
  }
  OpenOptions writing() const {
    OpenOptions o;
    o.backing = backing;
    return o;
  }
};

// "64K", "10G", "512", "2T", "1024b" (b, K, M, G, T, P, E; no fractions: "1.5G" is refused).
// Returns bytes. base/size.h's grammar and messages.
inline Result<uint64_t> parse_size(const std::string& text) { return vessel::parse_size(text); }
// "cluster_size=64K,compat=1.1,compression_type=zstd,refcount_bits=16" onto qcow2 options.
Result<void> apply_create_options(const std::string& text, qcow2::CreateOptions& o);

struct CreateRequest {
  Format format = Format::Raw;
  std::string path;
  std::optional<uint64_t> size;  // from the backing file when absent
  std::string backing;
  std::optional<Format> backing_format;
  std::string options;  // -o
  Access access;        // for the backing file's own chain (-b names it: that name is followed)
};
Result<void> create_image(const CreateRequest& r);

// `info`: one object per layer (the top only unless `chain`), in QEMU's JSON vocabulary.
Result<std::vector<nlohmann::json>> image_info(const std::string& path, std::optional<Format> format, bool chain,
                                               const Access& access = {});

struct MapEntry {
  uint64_t start, length;
  int depth;
  bool present, zero, data;
  std::optional<uint64_t> offset;
  std::string filename;
};
Result<std::vector<MapEntry>> image_map(const std::string& path, std::optional<Format> format, const Access& access = {});

struct ConvertRequest {
  std::string src, dst;
  std::optional<Format> src_format;
  Format dst_format = Format::Raw;
  bool compress = false;
  std::string options;
  std::function<void(double)> progress;  // fraction done, 0..1
  // Like qemu-img convert's default cache=unsafe: the output is not fdatasync'ed (-t writeback
  // waits for the disk at the end).
  bool unsafe_cache = true;
  Access access;
};
Result<void> convert_image(const ConvertRequest& r);

// compare: nullopt when identical, else the first differing offset.
Result<std::optional<uint64_t>> compare_images(const std::string& a, std::optional<Format> fa,
                                               const std::string& b, std::optional<Format> fb,
                                               bool strict_size, std::string* warning, const Access& access = {});

Result<void> resize_image(const std::string& path, std::optional<Format> format,
                          const std::string& size_text, bool shrink, const Access& access = {});
Result<void> commit_image(const std::string& path, std::optional<Format> format, bool keep_top,
                          const Access& access = {});
Result<void> rebase_image(const std::string& path, std::optional<Format> format,
                          const std::string& backing, std::optional<Format> backing_format, bool unsafe,
                          const Access& access = {});

// `bench`, with qemu-img bench's access pattern: `count` requests of `buffer_size` bytes starting
// at `offset`, each `step` bytes after the previous one, wrapping around the image.
struct BenchRequest {
  std::string path;
  std::optional<Format> format;
  uint64_t count = 75000;
  uint64_t buffer_size = 4096;
  uint64_t step = 0;  // 0: buffer_size
  uint64_t offset = 0;
  uint64_t flush_interval = 0;
  uint64_t depth = 1;  // requests in flight (threads)
  bool write = false;
  uint8_t pattern = 0xa5;
  Access access;
};
struct BenchResult {
  double seconds;
};
Result<BenchResult> bench_image(const BenchRequest& r);

}  // namespace vessel::block
