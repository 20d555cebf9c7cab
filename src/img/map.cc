// vessel-img map [-f FMT] [--output human|json] FILE
#include <iostream>

#include "block/img_ops.h"
#include "img/verb.h"

namespace vessel::img {

namespace {

void print_json(const std::vector<block::MapEntry>& m) {
  std::cout << "[";
  for (size_t i = 0; i < m.size(); ++i) {
    const auto& e = m[i];
    std::cout << (i ? ",\n" : "") << fmt::format("{{ \"start\": {}, \"length\": {}, \"depth\": {}, \"present\": {}, \"zero\": {}, \"data\": {}",
                                                 e.start, e.length, e.depth, e.present, e.zero, e.data);
    if (e.offset) std::cout << fmt::format(", \"offset\": {}", *e.offset);
    std::cout << "}";
  }
  std::cout << "]\n";
}

void print_human(const std::vector<block::MapEntry>& m) {
  std::cout << fmt::format("{:<16}{:<16}{:<16}{}\n", "Offset", "Length", "Mapped to", "File");
  for (const auto& e : m)
    if (e.data && e.offset)
      std::cout << fmt::format("{:<#16x}{:<#16x}{:<#16x}{}\n", e.start, e.length, *e.offset, e.filename);
}

struct MapFlags {
  std::string format, output = "human", file;
};

class Map final : public Verb {
 public:
  CLI::App* add(CLI::App& app) override {
    auto* c = app.add_subcommand("map", "show where each range of the disk is stored");
    c->add_option("-f", o_.format, fmt_help());
    c->add_option("--output", o_.output, "human (default) or json")->check(CLI::IsMember({"human", "json"}));
    c->add_option("FILE", o_.file, "image")->required();
    add_access_flags(c, a_, true);
    return c;
  }

  int run() override {
    auto fo = opt_format(o_.format);
    if (!fo) return report(fo.error());
    auto acc = access(a_);
    if (!acc) return report(acc.error());
    auto m = block::image_map(o_.file, *fo, *acc);
    if (!m) return report(m.error());
    if (o_.output == "json") print_json(*m);
    else print_human(*m);
    return 0;
  }

 private:
  AccessFlags a_;
  MapFlags o_;
};

}  // namespace

std::unique_ptr<Verb> map_verb() { return std::make_unique<Map>(); }

}  // namespace vessel::img
