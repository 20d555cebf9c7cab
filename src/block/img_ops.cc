#include "block/img_ops.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include "block/compress.h"

#include "base/fd.h"
#include "block/image.h"
#include "block/qcow2.h"
#include "block/raw.h"

namespace vessel::block {

using nlohmann::json;

Result<uint64_t> parse_size(const std::string& text) {
  if (text.empty()) return fail(EINVAL, "empty size");
  size_t i = 0;
  uint64_t v = 0;
  while (i < text.size() && isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t d = static_cast<uint64_t>(text[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return fail(ERANGE, "size '{}' is too large", text);
    v = v * 10 + d;
    ++i;
  }
  if (i == 0) return fail(EINVAL, "invalid size '{}': expected a number with an optional K, M, G, T, P or E suffix", text);
  int shift = 0;
  if (i < text.size()) {
    switch (text[i]) {
      case 'b': case 'B': shift = 0; break;
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      case 't': case 'T': shift = 40; break;
      case 'p': case 'P': shift = 50; break;
      case 'e': case 'E': shift = 60; break;
      default: return fail(EINVAL, "invalid size suffix in '{}'", text);
    }
    if (i + 1 != text.size()) return fail(EINVAL, "invalid size '{}'", text);
  }
  if (shift && v > (UINT64_MAX >> shift)) return fail(ERANGE, "size '{}' is too large", text);
  return v << shift;
}

Result<void> apply_create_options(const std::string& text, qcow2::CreateOptions& o) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? text.size() : comma + 1;
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos) return fail(EINVAL, "option '{}' needs a value (key=value)", item);
    std::string key = item.substr(0, eq), val = item.substr(eq + 1);
    if (key == "cluster_size") {
      uint64_t cs = TRY(parse_size(val));
      if (cs < 512 || cs > (2u << 20) || (cs & (cs - 1)))
        return fail(EINVAL, "cluster_size {} must be a power of two between 512 and 2M", cs);
      o.cluster_bits = static_cast<uint32_t>(__builtin_ctzll(cs));
    } else if (key == "compat") {
      if (val == "0.10" || val == "v2") o.version = 2;
      else if (val == "1.1" || val == "v3") o.version = 3;
      else return fail(EINVAL, "compat '{}' must be 0.10 or 1.1", val);
    } else if (key == "compression_type") {
      if (val == "zlib") o.compression = qcow2::Compression::Zlib;
      else if (val == "zstd") o.compression = qcow2::Compression::Zstd;
      else return fail(EINVAL, "compression_type '{}' must be zlib or zstd", val);
    } else if (key == "refcount_bits") {
      uint64_t bits = TRY(parse_size(val));
      if (bits == 0 || bits > 64 || (bits & (bits - 1))) return fail(EINVAL, "refcount_bits {} must be a power of two up to 64", bits);
      o.refcount_order = static_cast<uint32_t>(__builtin_ctzll(bits));
    } else if (key == "backing_file") {
      o.backing_file = val;
    } else if (key == "backing_fmt") {
      o.backing_format = val;
    } else {
      return fail(EINVAL, "unknown option '{}' (cluster_size, compat, compression_type, refcount_bits, backing_file, backing_fmt)", key);
    }
  }
  if (o.version == 2 && o.compression == qcow2::Compression::Zstd)
    return fail(EINVAL, "compression_type=zstd needs compat=1.1");
  if (o.version == 2 && o.refcount_order != 4) return fail(EINVAL, "compat=0.10 needs refcount_bits=16");
  return {};
}

Result<void> create_image(const CreateRequest& r) {
  qcow2::CreateOptions o;
  TRY(apply_create_options(r.options, o));
  if (!r.backing.empty()) o.backing_file = r.backing;
  if (r.backing_format) o.backing_format = format_name(*r.backing_format);
  uint64_t size = 0;
  if (r.size) {
    size = *r.size;
  } else if (!o.backing_file.empty()) {
    std::string bpath = resolve_backing(r.path, o.backing_file);
    Format bf = o.backing_format.empty() ? TRY(probe_format(bpath)) : TRY(parse_format(o.backing_format));
    auto b = TRY_CTX(open_image(bpath, bf, {.read_only = true}), "open backing file {}", bpath);
    size = b->size();
  } else {
    return fail(EINVAL, "an image size is required without a backing file");
  }
  if (r.format == Format::Raw) {
    if (!o.backing_file.empty()) return fail(EINVAL, "raw images cannot have a backing file");
    if (!r.options.empty()) return fail(EINVAL, "raw images take no -o options");
    Fd fd = TRY_CTX(Fd::open(r.path, O_RDWR | O_CREAT | O_TRUNC, 0644), "create {}", r.path);
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) < 0) return fail_errno("resize {} to {} bytes", r.path, size);
    return {};
  }
  if (!o.backing_file.empty() && o.backing_format.empty()) {
    std::string bpath = resolve_backing(r.path, o.backing_file);
    o.backing_format = format_name(TRY(probe_format(bpath)));
  }
  o.size = size;
  return qcow2::create(r.path, o);
}

// ---- info --------------------------------------------------------------------------------------

namespace {

uint64_t actual_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) < 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

Result<json> layer_info(const std::string& path, Format f, std::string* backing_path, std::optional<Format>* backing_fmt) {
  json j;
  j["filename"] = path;
  j["format"] = format_name(f);
  j["actual-size"] = actual_size(path);
  j["dirty-flag"] = false;
  backing_path->clear();
  if (f == Format::Raw) {
    Fd fd = TRY_CTX(Fd::open(path, O_RDONLY), "open {}", path);
    auto raw = TRY(RawBackend::from_fd(std::move(fd), true));
    j["virtual-size"] = raw->size();
    return j;
  }
  Fd fd = TRY_CTX(Fd::open(path, O_RDONLY), "open {}", path);
  qcow2::Header h = TRY_CTX(Qcow2Backend::read_header(fd.get()), "{}", path);
  j["virtual-size"] = h.size;
  j["cluster-size"] = h.cluster_size();
  j["dirty-flag"] = (h.incompat & qcow2::kIncompatDirty) != 0;
  const char* comp = h.compression == qcow2::Compression::Zstd ? "zstd" : "zlib";
  json data = {{"compat", h.version == 2 ? "0.10" : "1.1"}, {"compression-type", comp},
               {"refcount-bits", h.refcount_bits()}};
  if (h.version == 3) {
    data["lazy-refcounts"] = (h.compat & qcow2::kCompatLazyRefcounts) != 0;
    data["corrupt"] = (h.incompat & qcow2::kIncompatCorrupt) != 0;
    data["extended-l2"] = false;
  }
  j["format-specific"] = {{"type", "qcow2"}, {"data", data}};
  if (!h.backing_file.empty()) {
    j["backing-filename"] = h.backing_file;
    *backing_path = resolve_backing(path, h.backing_file);
    j["full-backing-filename"] = *backing_path;
    if (h.backing_format) {
      j["backing-filename-format"] = *h.backing_format;
      *backing_fmt = TRY(parse_format(*h.backing_format));
    } else {
      *backing_fmt = std::nullopt;
    }
  }
  return j;
}

std::string human_size(uint64_t v) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double d = static_cast<double>(v);
  int u = 0;
  while (d >= 1024 && u < 6) {
    d /= 1024;
    ++u;
  }
  return fmt::format("{:.3g} {}", d, units[u]);
}

}  // namespace

Result<std::vector<json>> image_info(const std::string& path, std::optional<Format> format, bool chain) {
  std::vector<json> out;
  std::set<std::string> seen;
  std::string cur = path;
  std::optional<Format> cf = format;
  for (int depth = 0; !cur.empty(); ++depth) {
    char real[PATH_MAX];
    if (!::realpath(cur.c_str(), real)) return fail_errno("resolve image path {}", cur);
    if (!seen.insert(real).second) return fail(ELOOP, "backing chain loops: {} appears twice", real);
    if (depth > kMaxChainDepth) return fail(ELOOP, "backing chain is deeper than {} images", kMaxChainDepth);
    Format f = cf ? *cf : TRY(probe_format(cur));
    std::string next;
    std::optional<Format> nf;
    out.push_back(TRY(layer_info(cur, f, &next, &nf)));
    if (!chain) break;
    cur = next;
    cf = nf;
  }
  return out;
}

std::string info_human(const json& j) {
  std::string s;
  s += fmt::format("image: {}\n", j["filename"].get<std::string>());
  s += fmt::format("file format: {}\n", j["format"].get<std::string>());
  uint64_t vs = j["virtual-size"].get<uint64_t>();
  s += fmt::format("virtual size: {} ({} bytes)\n", human_size(vs), vs);
  s += fmt::format("disk size: {}\n", human_size(j["actual-size"].get<uint64_t>()));
  if (j.contains("cluster-size")) s += fmt::format("cluster_size: {}\n", j["cluster-size"].get<uint64_t>());
  if (j.contains("backing-filename")) {
    s += fmt::format("backing file: {}", j["backing-filename"].get<std::string>());
    if (j["full-backing-filename"] != j["backing-filename"])
      s += fmt::format(" (actual path: {})", j["full-backing-filename"].get<std::string>());
    s += "\n";
  }
  if (j.contains("backing-filename-format"))
    s += fmt::format("backing file format: {}\n", j["backing-filename-format"].get<std::string>());
  if (j.contains("format-specific")) {
    const json& d = j["format-specific"]["data"];
    s += "Format specific information:\n";
    s += fmt::format("    compat: {}\n", d["compat"].get<std::string>());
    s += fmt::format("    compression type: {}\n", d["compression-type"].get<std::string>());
    if (d.contains("lazy-refcounts")) s += fmt::format("    lazy refcounts: {}\n", d["lazy-refcounts"].get<bool>());
    s += fmt::format("    refcount bits: {}\n", d["refcount-bits"].get<uint32_t>());
    if (d.contains("corrupt")) s += fmt::format("    corrupt: {}\n", d["corrupt"].get<bool>());
    if (d.contains("extended-l2")) s += fmt::format("    extended l2: {}\n", d["extended-l2"].get<bool>());
  }
  return s;
}

// ---- map and zero detection ---------------------------------------------------------------------

namespace {

std::string layer_name(const std::vector<json>& chain, int depth) {
  return depth < static_cast<int>(chain.size()) ? chain[depth]["filename"].get<std::string>() : "";
}

void push_merged(std::vector<MapEntry>& out, MapEntry e) {
  if (!out.empty()) {
    MapEntry& b = out.back();
    bool contiguous = b.start + b.length == e.start;
    bool same = b.depth == e.depth && b.present == e.present && b.zero == e.zero && b.data == e.data &&
                b.offset.has_value() == e.offset.has_value() &&
                (!e.offset || *b.offset + b.length == *e.offset);
    if (contiguous && same) {
      b.length += e.length;
      return;
    }
  }
  out.push_back(std::move(e));
}

Result<void> raw_status(RawBackend* raw, uint64_t off, uint64_t len, int depth, const std::string& name,
                        std::vector<MapEntry>& out) {
  uint64_t end = off + len;
  while (off < end) {
    off_t data = ::lseek(raw->fd(), static_cast<off_t>(off), SEEK_DATA);
    uint64_t data_at = data < 0 ? end : std::min<uint64_t>(static_cast<uint64_t>(data), end);
    if (data_at > off) {
      push_merged(out, {off, data_at - off, depth, true, true, false, off, name});
      off = data_at;
      continue;
    }
    off_t hole = ::lseek(raw->fd(), static_cast<off_t>(off), SEEK_HOLE);
    uint64_t hole_at = hole < 0 ? end : std::min<uint64_t>(static_cast<uint64_t>(hole), end);
    if (hole_at <= off) hole_at = end;
    push_merged(out, {off, hole_at - off, depth, true, false, true, off, name});
    off = hole_at;
  }
  return {};
}

Result<void> layer_status(BlockBackend* b, uint64_t off, uint64_t len, int depth,
                          const std::vector<json>& chain, std::vector<MapEntry>& out) {
  if (len == 0) return {};
  std::string name = layer_name(chain, depth);
  if (auto* raw = dynamic_cast<RawBackend*>(b)) return raw_status(raw, off, len, depth, name, out);
  auto* q = dynamic_cast<Qcow2Backend*>(b);
  if (!q) return fail(EINVAL, "unknown backend type");
  auto ext = TRY(q->map(off, len));
  for (const auto& x : ext) {
    switch (x.kind) {
      case Extent::Kind::Data:
        push_merged(out, {x.offset, x.length, depth, true, false, true, x.host, name});
        break;
      case Extent::Kind::Compressed:
        push_merged(out, {x.offset, x.length, depth, true, false, true, std::nullopt, name});
        break;
      case Extent::Kind::Zero:
        push_merged(out, {x.offset, x.length, depth, true, true, false, std::nullopt, name});
        break;
      case Extent::Kind::Unallocated: {
        BlockBackend* back = q->backing();
        uint64_t bsize = back ? back->size() : 0;
        uint64_t in_back = x.offset < bsize ? std::min(x.length, bsize - x.offset) : 0;
        if (in_back) TRY(layer_status(back, x.offset, in_back, depth + 1, chain, out));
        if (in_back < x.length)
          push_merged(out, {x.offset + in_back, x.length - in_back, back ? depth + 1 : depth, false, true,
                            false, std::nullopt, ""});
        break;
      }
    }
  }
  return {};
}

// Whether [off, off+len) reads as zeros, known from metadata alone (no data read).
Result<bool> known_zero(BlockBackend* b, uint64_t off, uint64_t len) {
  std::vector<MapEntry> st;
  TRY(layer_status(b, off, len, 0, {}, st));
  for (const auto& e : st)
    if (!e.zero) return false;
  return true;
}

bool all_zero(const uint8_t* p, size_t n) {
  if (n == 0) return true;
  return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

// Compresses the non-zero clusters of a chunk on every core, then appends them in order.
Result<void> write_compressed_chunk(Qcow2Backend& q, uint64_t off, const uint8_t* data, uint64_t n) {
  uint64_t cs = q.cluster_size();
  std::vector<std::vector<uint8_t>> clusters;
  std::vector<uint64_t> offsets;
  for (uint64_t u = 0; u < n; u += cs) {
    uint64_t un = std::min(cs, n - u);
    if (all_zero(data + u, un)) continue;
    std::vector<uint8_t> c(cs, 0);
    memcpy(c.data(), data + u, un);
    clusters.push_back(std::move(c));
    offsets.push_back(off + u);
  }
  std::vector<std::optional<std::vector<uint8_t>>> packed(clusters.size());
  // At least four, as QEMU's qcow2 compression threads: a busy host shares CPU per thread.
  unsigned threads = std::clamp(std::thread::hardware_concurrency(), 4u, 8u);
  std::vector<std::thread> pool;
  auto type = q.header().compression;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (size_t i = t; i < clusters.size(); i += threads) packed[i] = qcow2::compress_cluster(type, clusters[i]);
    });
  for (auto& th : pool) th.join();
  for (size_t i = 0; i < clusters.size(); ++i) TRY(q.write_precompressed(offsets[i], clusters[i], packed[i]));
  return {};
}

}  // namespace

Result<std::vector<MapEntry>> image_map(const std::string& path, std::optional<Format> format) {
  Format f = format ? *format : TRY(probe_format(path));
  auto chain = TRY(image_info(path, f, true));
  auto b = TRY(open_image(path, f, {.read_only = true}));
  std::vector<MapEntry> out;
  TRY(layer_status(b.get(), 0, b->size(), 0, chain, out));
  return out;
}

// ---- convert -----------------------------------------------------------------------------------

Result<void> convert_image(const ConvertRequest& r) {
  Format sf = r.src_format ? *r.src_format : TRY(probe_format(r.src));
  auto src = TRY_CTX(open_image(r.src, sf, {.read_only = true}), "open source {}", r.src);
  uint64_t size = src->size();
  if (r.compress && r.dst_format != Format::Qcow2) return fail(ENOTSUP, "compression needs -O qcow2");
  CreateRequest cr{r.dst_format, r.dst, size, "", std::nullopt, r.options};
  TRY_CTX(create_image(cr), "create {}", r.dst);
  auto dst = TRY_CTX(open_image(r.dst, r.dst_format, {}, true), "open {}", r.dst);
  auto* qdst = dynamic_cast<Qcow2Backend*>(dst.get());
  if (qdst && r.unsafe_cache) qdst->set_unsafe_cache(true);
  uint64_t unit = qdst ? qdst->cluster_size() : 4096;          // zero-detection granularity
  uint64_t chunk = std::max<uint64_t>(unit, (r.compress ? 8u : 2u) << 20);  // read size
  // Two buffers: the next chunk is read on a helper thread while this one is written.
  struct Chunk {
    uint64_t off = 0, n = 0;
    bool zero = false;
    std::vector<uint8_t> buf;
    Result<void> status;
  };
  auto load = [&](Chunk& c, uint64_t off) {
    c.off = off;
    c.n = std::min(chunk, size - off);
    c.buf.resize(chunk);
    auto z = known_zero(src.get(), off, c.n);
    if (!z) {
      c.status = Unexpected(std::move(z.error()));
      return;
    }
    c.zero = *z;
    if (c.zero) return;
    iovec v{c.buf.data(), c.n};
    c.status = src->readv(off, {&v, 1});
    if (!c.status) c.status.error().add_context(fmt::format("read {} at offset {}", r.src, off));
  };
  Chunk chunks[2];
  if (size > 0) load(chunks[0], 0);
  int cur = 0;
  for (uint64_t off = 0; off < size; off += chunk, cur ^= 1) {
    std::thread prefetch;
    if (off + chunk < size) prefetch = std::thread(load, std::ref(chunks[cur ^ 1]), off + chunk);
    auto join = [&] {
      if (prefetch.joinable()) prefetch.join();
    };
    Chunk& c = chunks[cur];
    if (r.progress) r.progress(static_cast<double>(off) / static_cast<double>(size));
    auto step = [&]() -> Result<void> {
      TRY(std::move(c.status));
      if (c.zero) return {};
      if (r.compress) return write_compressed_chunk(*qdst, off, c.buf.data(), c.n);
      for (uint64_t u = 0; u < c.n;) {
        uint64_t un = std::min(unit, c.n - u);
        if (all_zero(c.buf.data() + u, un)) {
          u += un;
          continue;
        }
        uint64_t run = un;  // extend over non-zero units: one write
        while (u + run < c.n) {
          uint64_t next = std::min(unit, c.n - u - run);
          if (all_zero(c.buf.data() + u + run, next)) break;
          run += next;
        }
        iovec w{c.buf.data() + u, run};
        TRY_CTX(dst->writev(off + u, {&w, 1}), "write {} at offset {}", r.dst, off + u);
        u += run;
      }
      return {};
    }();
    join();
    TRY(std::move(step));
  }
  if (qdst || !r.unsafe_cache) TRY(dst->flush());  // qcow2 metadata must be written either way
  if (r.progress) r.progress(1.0);
  return {};
}

// ---- compare -----------------------------------------------------------------------------------

Result<std::optional<uint64_t>> compare_images(const std::string& a, std::optional<Format> fa,
                                               const std::string& b, std::optional<Format> fb,
                                               bool strict_size, std::string* warning) {
  Format ffa = fa ? *fa : TRY(probe_format(a));
  Format ffb = fb ? *fb : TRY(probe_format(b));
  auto ia = TRY(open_image(a, ffa, {.read_only = true}));
  auto ib = TRY(open_image(b, ffb, {.read_only = true}));
  uint64_t sa = ia->size(), sb = ib->size();
  if (sa != sb) {
    if (strict_size) return fail(EINVAL, "Strict mode: Image size mismatch!");
    if (warning) *warning = "Warning: Image size mismatch!";
  }
  const uint64_t chunk = 2u << 20;
  std::vector<uint8_t> ba(chunk), bb(chunk);
  uint64_t common = std::min(sa, sb);
  for (uint64_t off = 0; off < common; off += chunk) {
    uint64_t n = std::min(chunk, common - off);
    bool za = TRY(known_zero(ia.get(), off, n)), zb = TRY(known_zero(ib.get(), off, n));
    if (za && zb) continue;
    iovec va{ba.data(), n}, vb{bb.data(), n};
    TRY(ia->readv(off, {&va, 1}));
    TRY(ib->readv(off, {&vb, 1}));
    if (memcmp(ba.data(), bb.data(), n) != 0) {
      uint64_t i = 0;
      while (ba[i] == bb[i]) ++i;
      return std::optional<uint64_t>((off + i) & ~511ull);
    }
  }
  BlockBackend* longer = sa > sb ? ia.get() : ib.get();
  for (uint64_t off = common; off < std::max(sa, sb); off += chunk) {
    uint64_t n = std::min(chunk, std::max(sa, sb) - off);
    if (TRY(known_zero(longer, off, n))) continue;
    iovec v{ba.data(), n};
    TRY(longer->readv(off, {&v, 1}));
    for (uint64_t i = 0; i < n; ++i)
      if (ba[i]) return std::optional<uint64_t>((off + i) & ~511ull);
  }
  return std::optional<uint64_t>();
}

// ---- resize, commit, rebase ----------------------------------------------------------------------

Result<void> resize_image(const std::string& path, std::optional<Format> format, const std::string& size_text,
                          bool shrink) {
  Format f = format ? *format : TRY(probe_format(path));
  auto img = TRY(open_image(path, f, {}, true));
  uint64_t cur = img->size(), want;
  if (!size_text.empty() && (size_text[0] == '+' || size_text[0] == '-')) {
    uint64_t delta = TRY(parse_size(size_text.substr(1)));
    if (size_text[0] == '+') {
      if (delta > UINT64_MAX - cur) return fail(ERANGE, "size overflows");
      want = cur + delta;
    } else {
      if (delta > cur) return fail(EINVAL, "cannot shrink below zero");
      want = cur - delta;
    }
  } else {
    want = TRY(parse_size(size_text));
  }
  if (want < cur && !shrink)
    return Unexpected(Error(EINVAL, "use the --shrink option to perform a shrink operation")
                          .with_hint("shrinking may lose data: back it up first"));
  if (auto* raw = dynamic_cast<RawBackend*>(img.get())) return raw->truncate(want);
  auto* q = dynamic_cast<Qcow2Backend*>(img.get());
  if (want % 512 != 0) return fail(EINVAL, "qcow2 sizes must be multiples of 512");
  return q->resize(want);
}

Result<void> commit_image(const std::string& path, std::optional<Format> format, bool keep_top) {
  Format f = format ? *format : TRY(probe_format(path));
  if (f != Format::Qcow2) return fail(EINVAL, "{} has no backing file to commit to", path);
  std::string bpath;
  Format bf;
  {
    Fd fd = TRY_CTX(Fd::open(path, O_RDONLY), "open {}", path);
    qcow2::Header h = TRY(Qcow2Backend::read_header(fd.get()));
    if (h.backing_file.empty()) return fail(EINVAL, "{} has no backing file to commit to", path);
    bpath = resolve_backing(path, h.backing_file);
    bf = h.backing_format ? TRY(parse_format(*h.backing_format)) : TRY(probe_format(bpath));
  }
  auto top = TRY(Qcow2Backend::open(path, {.read_only = true}, nullptr));
  auto base = TRY_CTX(open_image(bpath, bf, {}), "open backing file {}", bpath);
  if (top->size() > base->size()) {
    if (auto* raw = dynamic_cast<RawBackend*>(base.get())) TRY(raw->truncate(top->size()));
    else TRY(dynamic_cast<Qcow2Backend*>(base.get())->resize(top->size()));
  }
  auto ext = TRY(top->map(0, top->size()));
  std::vector<uint8_t> buf;
  for (const auto& x : ext) {
    if (x.kind == Extent::Kind::Unallocated) continue;
    if (x.kind == Extent::Kind::Zero) {
      TRY(base->discard(x.offset, x.length, true));
      continue;
    }
    for (uint64_t off = x.offset; off < x.offset + x.length;) {
      uint64_t n = std::min<uint64_t>(2u << 20, x.offset + x.length - off);
      buf.resize(n);
      iovec v{buf.data(), n};
      TRY(top->readv(off, {&v, 1}));
      TRY(base->writev(off, {&v, 1}));
      off += n;
    }
  }
  TRY(base->flush());
  if (keep_top) return {};
  top.reset();
  auto rw = TRY(Qcow2Backend::open(path, {}, nullptr));
  return rw->make_empty();
}

Result<void> rebase_image(const std::string& path, std::optional<Format> format, const std::string& backing,
                          std::optional<Format> backing_format, bool unsafe) {
  Format f = format ? *format : TRY(probe_format(path));
  if (f != Format::Qcow2) return fail(EINVAL, "only qcow2 images have a backing file");
  std::string bfmt;
  std::string bpath = resolve_backing(path, backing);
  if (!backing.empty()) {
    Format bf = backing_format ? *backing_format : TRY(probe_format(bpath));
    bfmt = format_name(bf);
  }
  if (unsafe) {
    auto q = TRY(Qcow2Backend::open(path, {}, nullptr));
    return q->set_backing(backing, bfmt);
  }
  auto top = TRY(open_image(path, Format::Qcow2, {}));
  auto* q = dynamic_cast<Qcow2Backend*>(top.get());
  std::unique_ptr<BlockBackend> nb;
  if (!backing.empty()) nb = TRY_CTX(open_image(bpath, TRY(parse_format(bfmt)), {.read_only = true}), "open new backing file {}", bpath);
  uint64_t cs = q->cluster_size();
  std::vector<uint8_t> oldb(cs), newb(cs);
  auto ext = TRY(q->map(0, q->size()));
  for (const auto& x : ext) {
    if (x.kind != Extent::Kind::Unallocated) continue;
    for (uint64_t off = x.offset; off < x.offset + x.length; off += cs) {
      uint64_t n = std::min(cs, x.offset + x.length - off);
      iovec vo{oldb.data(), n};
      TRY(q->readv(off, {&vo, 1}));
      uint64_t nsize = nb ? nb->size() : 0;
      std::fill(newb.begin(), newb.end(), 0);
      if (off < nsize) {
        iovec vn{newb.data(), std::min(n, nsize - off)};
        TRY(nb->readv(off, {&vn, 1}));
      }
      if (memcmp(oldb.data(), newb.data(), n) != 0) TRY(q->writev(off, {&vo, 1}));
    }
  }
  TRY(q->flush());
  return q->set_backing(backing, bfmt);
}


// ---- bench -------------------------------------------------------------------------------------

namespace {
struct FreeDeleter {
  void operator()(uint8_t* p) const { free(p); }
};
std::unique_ptr<uint8_t, FreeDeleter> aligned_buffer(uint64_t size) {
  const uint64_t align = 2u << 20;
  uint64_t rounded = (size + align - 1) & ~(align - 1);
  void* p = aligned_alloc(align, rounded);
  if (p) madvise(p, rounded, MADV_HUGEPAGE);
  return std::unique_ptr<uint8_t, FreeDeleter>(static_cast<uint8_t*>(p));
}
}  // namespace

Result<BenchResult> bench_image(const BenchRequest& r) {
  Format f = r.format ? *r.format : TRY(probe_format(r.path));
  auto img = TRY(open_image(r.path, f, {.read_only = !r.write}));
  uint64_t size = img->size();
  if (r.buffer_size == 0 || r.buffer_size > size) return fail(EINVAL, "buffer size must be between 1 and the image size");
  uint64_t step = r.step ? r.step : r.buffer_size;
  std::vector<uint64_t> offsets(r.count);
  for (uint64_t i = 0, off = r.offset; i < r.count; ++i, off += step) {
    if (off + r.buffer_size > size) off = size > r.buffer_size ? off % (size - r.buffer_size) : 0;
    offsets[i] = off;
  }
  // `depth` requests in flight: one thread per slot, all sharing the backend (which is safe
  // for concurrent calls), each taking every depth-th request.
  unsigned depth = static_cast<unsigned>(std::clamp<uint64_t>(r.depth, 1, 64));
  std::vector<Result<void>> results(depth);
  auto start = std::chrono::steady_clock::now();
  auto worker = [&](unsigned t) {
    // Buffers as QEMU allocates them: 2 MiB aligned, huge pages allowed (fewer TLB misses
    // while the kernel copies, which matters a lot under nested paging).
    auto buf = aligned_buffer(r.buffer_size);
    if (!buf) {
      results[t] = fail(ENOMEM, "allocate a {} byte buffer", r.buffer_size);
      return;
    }
    memset(buf.get(), r.pattern, r.buffer_size);
    iovec v{buf.get(), r.buffer_size};
    for (uint64_t i = t; i < r.count; i += depth) {
      auto res = r.write ? img->writev(offsets[i], {&v, 1}) : img->readv(offsets[i], {&v, 1});
      if (!res) {
        results[t] = std::move(res);
        return;
      }
      if (r.flush_interval && (i + 1) % r.flush_interval == 0) {
        if (auto f = img->flush(); !f) {
          results[t] = std::move(f);
          return;
        }
      }
    }
  };
  if (depth == 1) {
    worker(0);
  } else {
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < depth; ++t) threads.emplace_back(worker, t);
    for (auto& th : threads) th.join();
  }
  for (auto& res : results) TRY(std::move(res));
  // Timed like qemu-img bench: until the last request completes; the flush at close is not.
  std::chrono::duration<double> d = std::chrono::steady_clock::now() - start;
  if (r.write) TRY(img->flush());
  return BenchResult{d.count()};
}

}  // namespace vessel::block
