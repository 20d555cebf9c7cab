// vessel-img info [-f FMT] [--output human|json] [--backing-chain] FILE
#include <iostream>

#include "block/img_ops.h"
#include "img/verb.h"

namespace vessel::img {

namespace {

using nlohmann::json;

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

// One layer as qemu-img info prints it.
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

struct InfoFlags {
  std::string format, output = "human", file;
  bool chain = false;
};

class Info final : public Verb {
 public:
  CLI::App* add(CLI::App& app) override {
    auto* c = app.add_subcommand("info", "show an image's format, sizes, backing file and format details");
    c->add_option("-f", o_.format, fmt_help());
    c->add_option("--output", o_.output, "human (default) or json")->check(CLI::IsMember({"human", "json"}));
    c->add_flag("--backing-chain", o_.chain, "show every image of the backing chain");
    c->add_option("FILE", o_.file, "image")->required();
    add_access_flags(c, a_, true);
    return c;
  }

  int run() override {
    auto fo = opt_format(o_.format);
    if (!fo) return report(fo.error());
    auto acc = access(a_);
    if (!acc) return report(acc.error());
    auto info = block::image_info(o_.file, *fo, o_.chain, *acc);
    if (!info) return report(info.error());
    if (o_.output == "json") {
      json out = o_.chain ? json(*info) : (*info)[0];
      std::cout << out.dump(4) << "\n";
    } else {
      for (size_t i = 0; i < info->size(); ++i) {
        if (i) std::cout << "\n";
        std::cout << info_human((*info)[i]);
      }
    }
    return 0;
  }

 private:
  AccessFlags a_;
  InfoFlags o_;
};

}  // namespace

std::unique_ptr<Verb> info_verb() { return std::make_unique<Info>(); }

}  // namespace vessel::img
