// vessel-img map: where each guest range is stored, layer by layer; the same walk tells convert
// and compare which ranges read as zeros without reading them.
#include <unistd.h>

#include "block/image.h"
#include "block/img_ops.h"
#include "block/ops/status.h"
#include "block/qcow2.h"
#include "block/raw.h"

namespace vessel::block {

using nlohmann::json;

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

}  // namespace

Result<bool> known_zero(BlockBackend* b, uint64_t off, uint64_t len) {
  std::vector<MapEntry> st;
  TRY(layer_status(b, off, len, 0, {}, st));
  for (const auto& e : st)
    if (!e.zero) return false;
  return true;
}

Result<std::vector<MapEntry>> image_map(const std::string& path, std::optional<Format> format, const Access& access) {
  Format f = format ? *format : TRY(probe_format(path));
  auto chain = TRY(image_info(path, f, true, access));
  auto b = TRY(open_image(path, f, access.reading()));
  std::vector<MapEntry> out;
  TRY(layer_status(b.get(), 0, b->size(), 0, chain, out));
  return out;
}

}  // namespace vessel::block
