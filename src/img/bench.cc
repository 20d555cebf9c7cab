// vessel-img bench [-f FMT] [-c N] [-d N] [-s SIZE] [-S SIZE] [-o OFFSET] [-w] [-q] FILE
#include <iostream>

#include "block/img_ops.h"
#include "img/verb.h"

namespace vessel::img {

namespace {

struct BenchFlags {
  std::string format, file, size = "4K", step, offset = "0", cache = "writeback";
  bool quiet = false;
  block::BenchRequest request;  // count, depth, flush interval, pattern, write: as parsed
};

class Bench final : public Verb {
 public:
  CLI::App* add(CLI::App& app) override {
    auto& br = o_.request;
    auto* c = app.add_subcommand("bench", "measure read or write speed through the block layer (qemu-img bench's pattern)");
    c->add_option("-f", o_.format, fmt_help());
    c->add_option("-c", br.count, "number of requests (default 75000)");
    c->add_option("-d", br.depth, "requests in flight, each on its own thread (default 1, at most 64)");
    c->add_option("-s", o_.size, "request size (default 4K)");
    c->add_option("-S", o_.step, "distance between request offsets (default: the request size)");
    c->add_option("-o", o_.offset, "offset of the first request");
    c->add_option("--flush-interval", br.flush_interval, "flush after every N requests (writes)");
    c->add_option("--pattern", br.pattern, "byte written by -w (default 0xa5)");
    c->add_option("-t", o_.cache, "cache mode; only writeback (the page cache) is supported");
    c->add_flag("-w", br.write, "write instead of read");
    c->add_flag("-q", o_.quiet, "quiet");
    c->add_option("FILE", o_.file, "image")->required();
    add_access_flags(c, a_, true);
    return c;
  }

  int run() override {
    auto br = request();
    if (!br) return report(br.error());
    if (!o_.quiet)
      std::cout << fmt::format("Sending {} {} requests, {} bytes each, {} in parallel (starting at offset {}, step size {})\n",
                               br->count, br->write ? "write" : "read", br->buffer_size, br->depth, br->offset,
                               br->step ? br->step : br->buffer_size);
    auto r = block::bench_image(*br);
    if (!r) return report(r.error());
    if (!o_.quiet) std::cout << fmt::format("Run completed in {:.3f} seconds.\n", r->seconds);
    return 0;
  }

 private:
  AccessFlags a_;
  Result<block::BenchRequest> request() const {
    block::BenchRequest br = o_.request;
    br.access = TRY(access(a_));
    if (br.write && br.access.force_share) return fail(EINVAL, "-U (force-share) cannot be used with -w");
    br.format = TRY(opt_format(o_.format));
    if (o_.cache != "writeback")
      return Unexpected(Error(ENOTSUP, "cache mode '" + o_.cache + "' is not supported (writeback only)"));
    br.path = o_.file;
    br.buffer_size = TRY(block::parse_size(o_.size));
    if (!o_.step.empty()) br.step = TRY(block::parse_size(o_.step));
    br.offset = TRY(block::parse_size(o_.offset));
    return br;
  }

  BenchFlags o_;
};

}  // namespace

std::unique_ptr<Verb> bench_verb() { return std::make_unique<Bench>(); }

}  // namespace vessel::img
