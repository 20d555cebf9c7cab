// vessel-img compare [-f FMT] [-F FMT] [-s] [-q] FILE1 FILE2
// Exit status as qemu-img compare: 0 identical, 1 different, 2 error.
#include <iostream>

#include "base/cli.h"
#include "block/img_ops.h"
#include "img/verb.h"

namespace vessel::img {

namespace {

struct CompareFlags {
  std::string format1, format2, file1, file2;
  bool strict = false, quiet = false;
};

class Compare final : public Verb {
 public:
  CLI::App* add(CLI::App& app) override {
    auto* c = app.add_subcommand("compare", "compare the contents of two images");
    c->add_option("-f", o_.format1, "format of the first image");
    c->add_option("-F", o_.format2, "format of the second image");
    c->add_flag("-s", o_.strict, "strict: images of different sizes differ");
    c->add_flag("-q", o_.quiet, "quiet");
    c->add_option("FILE1", o_.file1, "first image")->required();
    c->add_option("FILE2", o_.file2, "second image")->required();
    add_access_flags(c, a_, true);
    return c;
  }

  int run() override {
    auto oa = opt_format(o_.format1);
    if (!oa) return report(oa.error());
    auto ob = opt_format(o_.format2);
    if (!ob) return report(ob.error());
    std::string warning;
    auto acc = access(a_);
    if (!acc) return report(acc.error());
    auto r = block::compare_images(o_.file1, *oa, o_.file2, *ob, o_.strict, &warning, *acc);
    if (!r) {
      cli::print_error(kProg, r.error());
      return 2;  // qemu-img compare: 2 for errors, 1 for a mismatch
    }
    if (!warning.empty() && !o_.quiet) std::cout << warning << "\n";
    if (*r) {
      if (!o_.quiet) std::cout << fmt::format("Content mismatch at offset {}!\n", **r);
      return 1;
    }
    if (!o_.quiet) std::cout << "Images are identical.\n";
    return 0;
  }

 private:
  AccessFlags a_;
  CompareFlags o_;
};

}  // namespace

std::unique_ptr<Verb> compare_verb() { return std::make_unique<Compare>(); }

}  // namespace vessel::img
