// vessel-img: disk images in the class of qemu-img. Same verbs, flags and exit codes where they
// overlap; the work is done by src/block (img_ops.h), this file only parses and prints.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "base/cli.h"
#include "block/image.h"
#include "block/img_ops.h"
#include "block/qcow2_check.h"

using namespace vessel;
using namespace vessel::block;
using nlohmann::json;

namespace {

constexpr const char* kProg = "vessel-img";

int report(const Error& e) {
  cli::print_error(kProg, e);
  return 1;
}

Result<std::optional<Format>> opt_format(const std::string& name) {
  if (name.empty()) return std::optional<Format>();
  return std::optional<Format>(TRY(parse_format(name)));
}

std::string fmt_help() { return "image format: raw or qcow2 (probed from the magic when omitted)"; }

int cmd_create(const std::string& f, const std::string& backing, const std::string& bfmt,
               const std::string& opts, const std::string& file, const std::string& size, bool quiet) {
  CreateRequest r;
  auto fo = parse_format(f.empty() ? "raw" : f);
  if (!fo) return report(fo.error());
  r.format = *fo;
  r.path = file;
  r.backing = backing;
  r.options = opts;
  if (!bfmt.empty()) {
    auto b = parse_format(bfmt);
    if (!b) return report(b.error());
    r.backing_format = *b;
  }
  if (!size.empty()) {
    auto s = parse_size(size);
    if (!s) return report(s.error());
    r.size = *s;
  }
  auto res = create_image(r);
  if (!res) return report(res.error());
  if (!quiet) {
    std::cout << fmt::format("Formatting '{}', fmt={} size={}", file, format_name(r.format),
                             r.size ? *r.size : 0);
    if (!backing.empty()) std::cout << fmt::format(" backing_file={}", backing);
    std::cout << "\n";
  }
  return 0;
}

int cmd_info(const std::string& f, const std::string& output, bool chain, const std::string& file) {
  auto fo = opt_format(f);
  if (!fo) return report(fo.error());
  auto info = image_info(file, *fo, chain);
  if (!info) return report(info.error());
  if (output == "json") {
    json out = chain ? json(*info) : (*info)[0];
    std::cout << out.dump(4) << "\n";
  } else {
    for (size_t i = 0; i < info->size(); ++i) {
      if (i) std::cout << "\n";
      std::cout << info_human((*info)[i]);
    }
  }
  return 0;
}

int cmd_check(const std::string& f, const std::string& output, const std::string& repair,
              const std::string& file, bool quiet) {
  auto fo = opt_format(f);
  if (!fo) return report(fo.error());
  Format fmt = *fo ? **fo : Format::Raw;
  if (!*fo) {
    auto p = probe_format(file);
    if (!p) return report(p.error());
    fmt = *p;
  }
  if (fmt == Format::Raw) {
    std::cerr << fmt::format("{}: This image format does not support checks\n", kProg);
    return 63;
  }
  qcow2::Repair mode = qcow2::Repair::None;
  if (repair == "leaks") mode = qcow2::Repair::Leaks;
  else if (repair == "all") mode = qcow2::Repair::All;
  else if (!repair.empty()) return report(Error(EINVAL, "unknown repair mode '" + repair + "' (leaks or all)"));
  auto rep = qcow2::check(file, mode);
  if (!rep) {
    if (output == "json") {
      std::cout << json{{"filename", file}, {"format", "qcow2"}, {"check-errors", 1}}.dump(4) << "\n";
    }
    cli::print_error(kProg, rep.error());
    return 1;
  }
  uint64_t corrupt_left = rep->corruptions - rep->corruptions_fixed;
  uint64_t leaks_left = rep->leaks - rep->leaks_fixed;
  if (output == "json") {
    json j = {{"image-end-offset", rep->image_end_offset}, {"total-clusters", rep->total_clusters},
              {"check-errors", rep->check_errors}, {"allocated-clusters", rep->allocated_clusters},
              {"filename", file}, {"format", "qcow2"}, {"fragmented-clusters", rep->fragmented_clusters},
              {"compressed-clusters", rep->compressed_clusters}};
    if (corrupt_left) j["corruptions"] = corrupt_left;
    if (leaks_left) j["leaks"] = leaks_left;
    if (rep->corruptions_fixed) j["corruptions-fixed"] = rep->corruptions_fixed;
    if (rep->leaks_fixed) j["leaks-fixed"] = rep->leaks_fixed;
    std::cout << j.dump(4) << "\n";
  } else if (!quiet) {
    for (const auto& m : rep->messages) std::cerr << m << "\n";
    if (rep->leaks_fixed || rep->corruptions_fixed)
      std::cout << fmt::format("The following inconsistencies were found and repaired:\n\n    {} leaked clusters\n    {} corruptions\n\nDouble checking the fixed image now...\n",
                               rep->leaks_fixed, rep->corruptions_fixed);
    if (corrupt_left)
      std::cout << fmt::format("\n{} errors were found on the image.\nData may be corrupted, or further writes to the image may corrupt it.\n", corrupt_left);
    if (leaks_left)
      std::cout << fmt::format("\n{} leaked clusters were found on the image.\nThis means waste of disk space, but no harm to data.\n", leaks_left);
    if (!corrupt_left && !leaks_left) std::cout << "No errors were found on the image.\n";
    double total = rep->total_clusters ? static_cast<double>(rep->total_clusters) : 1;
    std::cout << fmt::format("{}/{} = {:.2f}% allocated, {:.2f}% fragmented, {:.2f}% compressed clusters\n",
                             rep->allocated_clusters, rep->total_clusters, 100.0 * rep->allocated_clusters / total,
                             rep->allocated_clusters ? 100.0 * rep->fragmented_clusters / rep->allocated_clusters : 0.0,
                             rep->allocated_clusters ? 100.0 * rep->compressed_clusters / rep->allocated_clusters : 0.0);
    std::cout << fmt::format("Image end offset: {}\n", rep->image_end_offset);
  }
  if (corrupt_left) return 2;
  if (leaks_left) return 3;
  return 0;
}

int cmd_convert(const std::string& f, const std::string& outfmt, bool compress, bool progress,
                const std::string& opts, const std::string& src, const std::string& dst,
                const std::string& cache) {
  ConvertRequest r;
  if (cache != "unsafe" && cache != "writeback")
    return report(Error(EINVAL, "cache mode '" + cache + "' is not supported (unsafe or writeback)"));
  r.unsafe_cache = cache == "unsafe";
  auto fo = opt_format(f);
  if (!fo) return report(fo.error());
  r.src_format = *fo;
  auto of = parse_format(outfmt.empty() ? "raw" : outfmt);
  if (!of) return report(of.error());
  r.dst_format = *of;
  r.src = src;
  r.dst = dst;
  r.compress = compress;
  r.options = opts;
  if (progress) {
    r.progress = [last = -1.0](double frac) mutable {
      double pct = frac * 100.0;
      if (pct - last < 1.0 && frac < 1.0) return;
      last = pct;
      std::printf("    (%.2f/100%%)\r", pct);
      if (frac >= 1.0) std::printf("\n");
      std::fflush(stdout);
    };
  }
  auto res = convert_image(r);
  if (!res) return report(res.error());
  return 0;
}

int cmd_map(const std::string& f, const std::string& output, const std::string& file) {
  auto fo = opt_format(f);
  if (!fo) return report(fo.error());
  auto m = image_map(file, *fo);
  if (!m) return report(m.error());
  if (output == "json") {
    std::cout << "[";
    for (size_t i = 0; i < m->size(); ++i) {
      const auto& e = (*m)[i];
      std::cout << (i ? ",\n" : "") << fmt::format("{{ \"start\": {}, \"length\": {}, \"depth\": {}, \"present\": {}, \"zero\": {}, \"data\": {}",
                                                   e.start, e.length, e.depth, e.present, e.zero, e.data);
      if (e.offset) std::cout << fmt::format(", \"offset\": {}", *e.offset);
      std::cout << "}";
    }
    std::cout << "]\n";
  } else {
    std::cout << fmt::format("{:<16}{:<16}{:<16}{}\n", "Offset", "Length", "Mapped to", "File");
    for (const auto& e : *m)
      if (e.data && e.offset)
        std::cout << fmt::format("{:<#16x}{:<#16x}{:<#16x}{}\n", e.start, e.length, *e.offset, e.filename);
  }
  return 0;
}

int cmd_compare(const std::string& fa, const std::string& fb, bool strict, const std::string& a,
                const std::string& b, bool quiet) {
  auto oa = opt_format(fa);
  if (!oa) return report(oa.error());
  auto ob = opt_format(fb);
  if (!ob) return report(ob.error());
  std::string warning;
  auto r = compare_images(a, *oa, b, *ob, strict, &warning);
  if (!r) {
    cli::print_error(kProg, r.error());
    return 2;  // qemu-img compare: 2 for errors, 1 for a mismatch
  }
  if (!warning.empty() && !quiet) std::cout << warning << "\n";
  if (*r) {
    if (!quiet) std::cout << fmt::format("Content mismatch at offset {}!\n", **r);
    return 1;
  }
  if (!quiet) std::cout << "Images are identical.\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "vessel-img: create, inspect, check, convert, resize and rebase raw and qcow2 disk images.\n"
      "Verbs, flags and exit codes follow qemu-img where they overlap; images interoperate with QEMU\n"
      "both ways. Sizes take K, M, G, T, P or E suffixes (powers of 1024).",
      kProg};
  app.require_subcommand(1);
  app.footer(
      "EXIT STATUS\n"
      "  0 success; 1 error. check: 0 clean, 1 check could not complete, 2 corruptions, 3 leaks only,\n"
      "  63 format without checks. compare: 0 identical, 1 different, 2 error.\n"
      "EXAMPLES\n"
      "  vessel-img create -f qcow2 -o cluster_size=64K,compression_type=zstd disk.qcow2 10G\n"
      "  vessel-img create -f qcow2 -b base.raw -F raw overlay.qcow2\n"
      "  vessel-img convert -f qcow2 -O raw -p disk.qcow2 disk.raw\n"
      "  vessel-img check -r leaks --output json disk.qcow2\n"
      "See docs/vessel-img.md.");

  std::string f, F, b, o, out_fmt, output = "human", repair, file, file2, size, convert_cache = "unsafe";
  bool quiet = false, chain = false, compress = false, progress = false, unsafe = false, shrink = false,
       keep = false, strict = false;

  auto* create = app.add_subcommand("create", "create an empty image (qcow2 may name a backing file)");
  create->add_option("-f", f, "format of the new image: raw (default) or qcow2");
  create->add_option("-b", b, "backing file (qcow2 only); relative names are relative to FILE's directory");
  create->add_option("-F", F, "format of the backing file (probed when omitted; raw images can't be backing without it)");
  create->add_option("-o", o, "comma-separated options: cluster_size=512..2M, compat=0.10|1.1, compression_type=zlib|zstd, refcount_bits=1..64");
  create->add_flag("-q", quiet, "quiet");
  create->add_option("FILE", file, "image to create")->required();
  create->add_option("SIZE", size, "virtual size (default: the backing file's)");

  auto* info = app.add_subcommand("info", "show an image's format, sizes, backing file and format details");
  info->add_option("-f", f, fmt_help());
  info->add_option("--output", output, "human (default) or json")->check(CLI::IsMember({"human", "json"}));
  info->add_flag("--backing-chain", chain, "show every image of the backing chain");
  info->add_option("FILE", file, "image")->required();

  auto* check = app.add_subcommand("check", "check a qcow2 image's metadata for corruptions and leaks");
  check->add_option("-f", f, fmt_help());
  check->add_option("--output", output, "human (default) or json")->check(CLI::IsMember({"human", "json"}));
  check->add_option("-r", repair, "repair: 'leaks' fixes leaked clusters, 'all' also raises too-low refcounts");
  check->add_flag("-q", quiet, "quiet");
  check->add_option("FILE", file, "image")->required();

  auto* convert = app.add_subcommand("convert", "copy an image's contents into a new image, possibly of another format");
  convert->add_option("-f", f, fmt_help());
  convert->add_option("-O", out_fmt, "output format: raw (default) or qcow2");
  convert->add_flag("-c", compress, "compress the output (qcow2; zlib or zstd per -o compression_type)");
  convert->add_flag("-p", progress, "show a progress bar");
  convert->add_option("-o", o, "options of the output image (as for create)");
  convert->add_option("-t", convert_cache,
                      "output cache mode: unsafe (default, as qemu-img: no fdatasync) or writeback (fdatasync at the end)");
  convert->add_option("SRC", file, "source image")->required();
  convert->add_option("DST", file2, "output image")->required();

  auto* resize = app.add_subcommand("resize", "change an image's virtual size: SIZE, +SIZE or -SIZE");
  resize->add_option("-f", f, fmt_help());
  resize->add_flag("--shrink", shrink, "allow making the image smaller");
  resize->add_option("FILE", file, "image")->required();
  resize->add_option("SIZE", size, "new size, or +/- a delta")->required()->allow_extra_args(false);
  resize->prefix_command(false);

  auto* commit = app.add_subcommand("commit", "write a qcow2 overlay's data into its backing file");
  commit->add_option("-f", f, fmt_help());
  commit->add_flag("-d", keep, "do not empty the overlay afterwards");
  commit->add_flag("-q", quiet, "quiet");
  commit->add_option("FILE", file, "overlay image")->required();

  auto* rebase = app.add_subcommand("rebase", "change a qcow2 image's backing file");
  rebase->add_option("-f", f, fmt_help());
  rebase->add_option("-b", b, "new backing file ('' for none)")->required();
  rebase->add_option("-F", F, "format of the new backing file");
  rebase->add_flag("-u", unsafe, "unsafe: only rewrite the name, copy no data");
  rebase->add_option("FILE", file, "image")->required();

  auto* map = app.add_subcommand("map", "show where each range of the disk is stored");
  map->add_option("-f", f, fmt_help());
  map->add_option("--output", output, "human (default) or json")->check(CLI::IsMember({"human", "json"}));
  map->add_option("FILE", file, "image")->required();

  auto* compare = app.add_subcommand("compare", "compare the contents of two images");
  compare->add_option("-f", f, "format of the first image");
  compare->add_option("-F", F, "format of the second image");
  compare->add_flag("-s", strict, "strict: images of different sizes differ");
  compare->add_flag("-q", quiet, "quiet");
  compare->add_option("FILE1", file, "first image")->required();
  compare->add_option("FILE2", file2, "second image")->required();

  BenchRequest br;
  std::string bsize = "4K", bstep, boff = "0", cache = "writeback";
  auto* bench = app.add_subcommand("bench", "measure read or write speed through the block layer (qemu-img bench's pattern)");
  bench->add_option("-f", f, fmt_help());
  bench->add_option("-c", br.count, "number of requests (default 75000)");
  bench->add_option("-d", br.depth, "requests in flight, each on its own thread (default 1, at most 64)");
  bench->add_option("-s", bsize, "request size (default 4K)");
  bench->add_option("-S", bstep, "distance between request offsets (default: the request size)");
  bench->add_option("-o", boff, "offset of the first request");
  bench->add_option("--flush-interval", br.flush_interval, "flush after every N requests (writes)");
  bench->add_option("--pattern", br.pattern, "byte written by -w (default 0xa5)");
  bench->add_option("-t", cache, "cache mode; only writeback (the page cache) is supported");
  bench->add_flag("-w", br.write, "write instead of read");
  bench->add_flag("-q", quiet, "quiet");
  bench->add_option("FILE", file, "image")->required();

  // qemu-img accepts "resize FILE -1G": let a leading '-' on SIZE through as a positional.
  if (argc >= 4 && std::string(argv[1]) == "resize") {
    std::vector<std::string> args(argv + 1, argv + argc);
    for (auto& a : args)
      if (a.size() > 1 && a[0] == '-' && isdigit(static_cast<unsigned char>(a[1]))) a = "__neg__" + a.substr(1);
    std::vector<char*> av{argv[0]};
    for (auto& a : args) av.push_back(a.data());
    try {
      app.parse(static_cast<int>(av.size()), av.data());
    } catch (const CLI::ParseError& e) {
      return app.exit(e) == 0 ? 0 : 1;
    }
    if (size.rfind("__neg__", 0) == 0) size = "-" + size.substr(7);
  } else {
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e) == 0 ? 0 : 1;
    }
  }

  if (*create) return cmd_create(f, b, F, o, file, size, quiet);
  if (*info) return cmd_info(f, output, chain, file);
  if (*check) return cmd_check(f, output, repair, file, quiet);
  if (*convert) return cmd_convert(f, out_fmt, compress, progress, o, file, file2, convert_cache);
  if (*map) return cmd_map(f, output, file);
  if (*compare) return cmd_compare(f, F, strict, file, file2, quiet);
  if (*resize) {
    auto fo = opt_format(f);
    if (!fo) return report(fo.error());
    auto r = resize_image(file, *fo, size, shrink);
    if (!r) return report(r.error());
    std::cout << "Image resized.\n";
    return 0;
  }
  if (*commit) {
    auto fo = opt_format(f);
    if (!fo) return report(fo.error());
    auto r = commit_image(file, *fo, keep);
    if (!r) return report(r.error());
    if (!quiet) std::cout << "Image committed.\n";
    return 0;
  }
  if (*bench) {
    auto fo = opt_format(f);
    if (!fo) return report(fo.error());
    if (cache != "writeback") return report(Error(ENOTSUP, "cache mode '" + cache + "' is not supported (writeback only)"));
    br.format = *fo;
    br.path = file;
    auto s = parse_size(bsize);
    if (!s) return report(s.error());
    br.buffer_size = *s;
    if (!bstep.empty()) {
      auto st = parse_size(bstep);
      if (!st) return report(st.error());
      br.step = *st;
    }
    auto o2 = parse_size(boff);
    if (!o2) return report(o2.error());
    br.offset = *o2;
    if (!quiet)
      std::cout << fmt::format("Sending {} {} requests, {} bytes each, {} in parallel (starting at offset {}, step size {})\n",
                               br.count, br.write ? "write" : "read", br.buffer_size, br.depth, br.offset,
                               br.step ? br.step : br.buffer_size);
    auto r = bench_image(br);
    if (!r) return report(r.error());
    if (!quiet) std::cout << fmt::format("Run completed in {:.3f} seconds.\n", r->seconds);
    return 0;
  }
  if (*rebase) {
    auto fo = opt_format(f);
    if (!fo) return report(fo.error());
    auto bo = opt_format(F);
    if (!bo) return report(bo.error());
    auto r = rebase_image(file, *fo, b, *bo, unsafe);
    if (!r) return report(r.error());
    return 0;
  }
  return 1;
}
