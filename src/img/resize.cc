// vessel-img resize [-f FMT] [--shrink] FILE [+|-]SIZE
#include <iostream>

#include "block/img_ops.h"
#include "img/verb.h"

namespace vessel::img {

namespace {

constexpr const char* kNegative = "__neg__";

struct ResizeFlags {
  std::string format, file, size;
  bool shrink = false;
};

class Resize final : public Verb {
 public:
  CLI::App* add(CLI::App& app) override {
    auto* c = app.add_subcommand("resize", "change an image's virtual size: SIZE, +SIZE or -SIZE");
    c->add_option("-f", o_.format, fmt_help());
    c->add_flag("--shrink", o_.shrink, "allow making the image smaller");
    c->add_option("FILE", o_.file, "image")->required();
    c->add_option("SIZE", o_.size, "new size, or +/- a delta")->required()->allow_extra_args(false);
    c->prefix_command(false);
    add_access_flags(c, a_, false);
    return c;
  }

  int run() override {
    if (o_.size.rfind(kNegative, 0) == 0) o_.size = "-" + o_.size.substr(7);
    auto fo = opt_format(o_.format);
    if (!fo) return report(fo.error());
    auto acc = access(a_);
    if (!acc) return report(acc.error());
    auto r = block::resize_image(o_.file, *fo, o_.size, o_.shrink, *acc);
    if (!r) return report(r.error());
    std::cout << "Image resized.\n";
    return 0;
  }

 private:
  AccessFlags a_;
  ResizeFlags o_;
};

}  // namespace

std::unique_ptr<Verb> resize_verb() { return std::make_unique<Resize>(); }

void protect_negative_sizes(std::vector<std::string>& args) {
  if (args.size() < 4 || args[1] != "resize") return;
  for (size_t i = 1; i < args.size(); ++i) {
    auto& a = args[i];
    if (a.size() > 1 && a[0] == '-' && isdigit(static_cast<unsigned char>(a[1]))) a = kNegative + a.substr(1);
  }
}

}  // namespace vessel::img
