// vessel-img commit [-f FMT] [-d] [-q] FILE
#include <iostream>

#include "block/img_ops.h"
#include "img/verb.h"

namespace vessel::img {

namespace {

struct CommitFlags {
  std::string format, file;
  bool keep = false, quiet = false;
};

class Commit final : public Verb {
 public:
  CLI::App* add(CLI::App& app) override {
    auto* c = app.add_subcommand("commit", "write a qcow2 overlay's data into its backing file");
    c->add_option("-f", o_.format, fmt_help());
    c->add_flag("-d", o_.keep, "do not empty the overlay afterwards");
    c->add_flag("-q", o_.quiet, "quiet");
    c->add_option("FILE", o_.file, "overlay image")->required();
    add_access_flags(c, a_, false);
    return c;
  }

  int run() override {
    auto fo = opt_format(o_.format);
    if (!fo) return report(fo.error());
    auto acc = access(a_);
    if (!acc) return report(acc.error());
    auto r = block::commit_image(o_.file, *fo, o_.keep, *acc);
    if (!r) return report(r.error());
    if (!o_.quiet) std::cout << "Image committed.\n";
    return 0;
  }

 private:
  AccessFlags a_;
  CommitFlags o_;
};

}  // namespace

std::unique_ptr<Verb> commit_verb() { return std::make_unique<Commit>(); }

}  // namespace vessel::img
