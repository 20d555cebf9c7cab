// vessel-img convert [-f FMT] [-O FMT] [-c] [-p] [-o OPTIONS] [-t CACHE] SRC DST
#include <cstdio>

#include "block/img_ops.h"
#include "img/verb.h"

namespace vessel::img {

namespace {

struct ConvertFlags {
  std::string format, out_format, options, src, dst, cache = "unsafe";
  bool compress = false, progress = false;
};

// qemu-img's progress line, redrawn each whole percent.
std::function<void(double)> progress_printer() {
  return [last = -1.0](double frac) mutable {
    double pct = frac * 100.0;
    if (pct - last < 1.0 && frac < 1.0) return;
    last = pct;
    std::printf("    (%.2f/100%%)\r", pct);
    if (frac >= 1.0) std::printf("\n");
    std::fflush(stdout);
  };
}

class Convert final : public Verb {
 public:
  CLI::App* add(CLI::App& app) override {
    auto* c = app.add_subcommand("convert", "copy an image's contents into a new image, possibly of another format");
    c->add_option("-f", o_.format, fmt_help());
    c->add_option("-O", o_.out_format, "output format: raw (default) or qcow2");
    c->add_flag("-c", o_.compress, "compress the output (qcow2; zlib or zstd per -o compression_type)");
    c->add_flag("-p", o_.progress, "show a progress bar");
    c->add_option("-o", o_.options, "options of the output image (as for create)");
    c->add_option("-t", o_.cache,
                  "output cache mode: unsafe (default, as qemu-img: no fdatasync) or writeback (fdatasync at the end)");
    c->add_option("SRC", o_.src, "source image")->required();
    c->add_option("DST", o_.dst, "output image")->required();
    add_access_flags(c, a_, true);
    return c;
  }

  int run() override {
    auto r = request();
    if (!r) return report(r.error());
    auto res = block::convert_image(*r);
    if (!res) return report(res.error());
    return 0;
  }

 private:
  AccessFlags a_;
  Result<block::ConvertRequest> request() const {
    block::ConvertRequest r;
    r.access = TRY(access(a_));
    if (o_.cache != "unsafe" && o_.cache != "writeback")
      return Unexpected(Error(EINVAL, "cache mode '" + o_.cache + "' is not supported (unsafe or writeback)"));
    r.unsafe_cache = o_.cache == "unsafe";
    r.src_format = TRY(opt_format(o_.format));
    r.dst_format = TRY(block::parse_format(o_.out_format.empty() ? "raw" : o_.out_format));
    r.src = o_.src;
    r.dst = o_.dst;
    r.compress = o_.compress;
    r.options = o_.options;
    if (o_.progress) r.progress = progress_printer();
    return r;
  }

  ConvertFlags o_;
};

}  // namespace

std::unique_ptr<Verb> convert_verb() { return std::make_unique<Convert>(); }

}  // namespace vessel::img
