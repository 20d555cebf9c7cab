// vessel-img create [-f FMT] [-b BACKING [-F FMT]] [-o OPTIONS] [-q] FILE [SIZE]
#include <iostream>

#include "block/img_ops.h"
#include "img/verb.h"

namespace vessel::img {

namespace {

struct CreateFlags {
  std::string format, backing, backing_format, options, file, size;
  bool quiet = false;
};

class Create final : public Verb {
 public:
  CLI::App* add(CLI::App& app) override {
    auto* c = app.add_subcommand("create", "create an empty image (qcow2 may name a backing file)");
    c->add_option("-f", o_.format, "format of the new image: raw (default) or qcow2");
    c->add_option("-b", o_.backing, "backing file (qcow2 only); relative names are relative to FILE's directory");
    c->add_option("-F", o_.backing_format, "format of the backing file (probed when omitted; raw images can't be backing without it)");
    c->add_option("-o", o_.options, "comma-separated options: cluster_size=512..2M, compat=0.10|1.1, compression_type=zlib|zstd, refcount_bits=1..64");
    c->add_flag("-q", o_.quiet, "quiet");
    c->add_option("FILE", o_.file, "image to create")->required();
    c->add_option("SIZE", o_.size, "virtual size (default: the backing file's)");
    add_access_flags(c, a_, false);
    return c;
  }

  int run() override {
    auto r = request();
    if (!r) return report(r.error());
    auto res = block::create_image(*r);
    if (!res) return report(res.error());
    if (!o_.quiet) {
      std::cout << fmt::format("Formatting '{}', fmt={} size={}", o_.file, block::format_name(r->format),
                               r->size ? *r->size : 0);
      if (!o_.backing.empty()) std::cout << fmt::format(" backing_file={}", o_.backing);
      std::cout << "\n";
    }
    return 0;
  }

 private:
  AccessFlags a_;
  Result<block::CreateRequest> request() const {
    block::CreateRequest r;
    r.access = TRY(access(a_));
    r.format = TRY(block::parse_format(o_.format.empty() ? "raw" : o_.format));
    r.path = o_.file;
    r.backing = o_.backing;
    r.options = o_.options;
    if (!o_.backing_format.empty()) r.backing_format = TRY(block::parse_format(o_.backing_format));
    if (!o_.size.empty()) r.size = TRY(block::parse_size(o_.size));
    return r;
  }

  CreateFlags o_;
};

}  // namespace

std::unique_ptr<Verb> create_verb() { return std::make_unique<Create>(); }

}  // namespace vessel::img
