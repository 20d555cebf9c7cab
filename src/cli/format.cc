#include "cli/format.h"

#include <algorithm>

#include "base/size.h"

namespace vessel::cli {

std::string render_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < header.size(); ++i) {
      std::string cell = i < cells.size() ? cells[i] : "";
      if (i + 1 < header.size()) cell.resize(width[i] + 2, ' ');
      out += cell;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& r : rows) out += line(r);
  return out;
}

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", b) : fmt::format("{:.1f} {}", v, units[u]);
}

Result<std::pair<std::string, std::string>> parse_key_value(const std::string& text, const char* what) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    return Unexpected(Error(EINVAL, fmt::format("{} '{}' is not KEY=VALUE", what, text)).with_hint("for example -e HOME=/root"));
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

Result<uint64_t> parse_memory_mib(const std::string& text) {
  if (text.empty()) return fail(EINVAL, "empty memory size");
  std::string_view unit;
  auto bytes = scan_size(text, {.units = "mg", .long_units = true, .lenient = true, .bare_unit = 1u << 20}, &unit);
  if (!bytes && bytes.error() == SizeProblem::NotANumber)
    return Unexpected(Error(EINVAL, fmt::format("memory size '{}' is not a number", text)).with_hint("e.g. 256, 256M, 2G"));
  if (!bytes && bytes.error() != SizeProblem::TooLarge)
    return Unexpected(Error(EINVAL, fmt::format("memory size '{}': unknown unit '{}'", text, unit)).with_hint("use M or G"));
  if (!bytes || (*bytes >> 20) > (1ull << 40)) return fail(EINVAL, "memory size '{}' is absurd", text);
  return *bytes >> 20;
}

std::string progress_bar(uint64_t done, uint64_t total, const std::string& step, int width) {
  double f = total ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total)) : 0.0;
  int filled = static_cast<int>(f * width);
  return fmt::format("[{}{}] {:3.0f}% {} {}/{}", std::string(static_cast<size_t>(filled), '#'),
                     std::string(static_cast<size_t>(width - filled), '.'), f * 100, step, done, total);
}

std::string images_table(const json::Json& list) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& i : list) {
    std::string digest = i.value("digest", "");
    if (digest.size() > 19) digest = digest.substr(0, 19);
    uint64_t size = i.contains("info") && i["info"].is_object() ? i["info"].value("size", uint64_t{0}) : 0;
    size_t layers = i.contains("info") && i["info"].is_object() && i["info"].contains("layers") ? i["info"]["layers"].size() : 0;
    rows.push_back({i.value("name", ""), i.value("type", ""), digest,
                    i.value("type", "") == "container" ? std::to_string(layers) : "-",
                    size ? human_bytes(size) : "-"});
  }
  return render_table({"NAME", "TYPE", "DIGEST", "LAYERS", "SIZE"}, rows);
}

}  // namespace vessel::cli
