// vessel-img rebase [-f FMT] -b BACKING [-F FMT] [-u] FILE
#include "block/img_ops.h"
#include "img/verb.h"

namespace vessel::img {

namespace {

struct RebaseFlags {
  std::string format, backing, backing_format, file;
  bool unsafe = false;
};

class Rebase final : public Verb {
 public:
  CLI::App* add(CLI::App& app) override {
    auto* c = app.add_subcommand("rebase", "change a qcow2 image's backing file");
    c->add_option("-f", o_.format, fmt_help());
    c->add_option("-b", o_.backing, "new backing file ('' for none)")->required();
    c->add_option("-F", o_.backing_format, "format of the new backing file");
    c->add_flag("-u", o_.unsafe, "unsafe: only rewrite the name, copy no data");
    c->add_option("FILE", o_.file, "image")->required();
    add_access_flags(c, a_, false);
    return c;
  }

  int run() override {
    auto fo = opt_format(o_.format);
    if (!fo) return report(fo.error());
    auto bo = opt_format(o_.backing_format);
    if (!bo) return report(bo.error());
    auto acc = access(a_);
    if (!acc) return report(acc.error());
    auto r = block::rebase_image(o_.file, *fo, o_.backing, *bo, o_.unsafe, *acc);
    if (!r) return report(r.error());
    return 0;
  }

 private:
  AccessFlags a_;
  RebaseFlags o_;
};

}  // namespace

std::unique_ptr<Verb> rebase_verb() { return std::make_unique<Rebase>(); }

}  // namespace vessel::img
