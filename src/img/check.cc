// vessel-img check [-f FMT] [--output human|json] [-r leaks|all] [-q] FILE
// Exit status as qemu-img check: 0 clean, 1 not completed, 2 corruptions, 3 leaks only, 63 raw.
#include <iostream>

#include <nlohmann/json.hpp>

#include "base/cli.h"
#include "block/qcow2_check.h"
#include "img/verb.h"

namespace vessel::img {

namespace {

using nlohmann::json;
using block::qcow2::CheckReport;

void print_json(const CheckReport& rep, const std::string& file) {
  json j = {{"image-end-offset", rep.image_end_offset}, {"total-clusters", rep.total_clusters},
            {"check-errors", rep.check_errors}, {"allocated-clusters", rep.allocated_clusters},
            {"filename", file}, {"format", "qcow2"}, {"fragmented-clusters", rep.fragmented_clusters},
            {"compressed-clusters", rep.compressed_clusters}};
  if (uint64_t left = rep.corruptions - rep.corruptions_fixed) j["corruptions"] = left;
  if (uint64_t left = rep.leaks - rep.leaks_fixed) j["leaks"] = left;
  if (rep.corruptions_fixed) j["corruptions-fixed"] = rep.corruptions_fixed;
  if (rep.leaks_fixed) j["leaks-fixed"] = rep.leaks_fixed;
  std::cout << j.dump(4) << "\n";
}

void print_human(const CheckReport& rep) {
  uint64_t corrupt_left = rep.corruptions - rep.corruptions_fixed;
  uint64_t leaks_left = rep.leaks - rep.leaks_fixed;
  for (const auto& m : rep.messages) std::cerr << m << "\n";
  if (rep.leaks_fixed || rep.corruptions_fixed)
    std::cout << fmt::format("The following inconsistencies were found and repaired:\n\n    {} leaked clusters\n    {} corruptions\n\nDouble checking the fixed image now...\n",
                             rep.leaks_fixed, rep.corruptions_fixed);
  if (corrupt_left)
    std::cout << fmt::format("\n{} errors were found on the image.\nData may be corrupted, or further writes to the image may corrupt it.\n", corrupt_left);
  if (leaks_left)
    std::cout << fmt::format("\n{} leaked clusters were found on the image.\nThis means waste of disk space, but no harm to data.\n", leaks_left);
  if (!corrupt_left && !leaks_left) std::cout << "No errors were found on the image.\n";
  double total = rep.total_clusters ? static_cast<double>(rep.total_clusters) : 1;
  std::cout << fmt::format("{}/{} = {:.2f}% allocated, {:.2f}% fragmented, {:.2f}% compressed clusters\n",
                           rep.allocated_clusters, rep.total_clusters, 100.0 * rep.allocated_clusters / total,
                           rep.allocated_clusters ? 100.0 * rep.fragmented_clusters / rep.allocated_clusters : 0.0,
                           rep.allocated_clusters ? 100.0 * rep.compressed_clusters / rep.allocated_clusters : 0.0);
  std::cout << fmt::format("Image end offset: {}\n", rep.image_end_offset);
}

struct CheckFlags {
  std::string format, output = "human", repair, file;
  bool quiet = false;
};

class Check final : public Verb {
 public:
  CLI::App* add(CLI::App& app) override {
    auto* c = app.add_subcommand("check", "check a qcow2 image's metadata for corruptions and leaks");
    c->add_option("-f", o_.format, fmt_help());
    c->add_option("--output", o_.output, "human (default) or json")->check(CLI::IsMember({"human", "json"}));
    c->add_option("-r", o_.repair, "repair: 'leaks' fixes leaked clusters, 'all' also raises too-low refcounts");
    c->add_flag("-q", o_.quiet, "quiet");
    c->add_option("FILE", o_.file, "image")->required();
    add_access_flags(c, a_, true);
    return c;
  }

  int run() override {
    auto fo = opt_format(o_.format);
    if (!fo) return report(fo.error());
    block::Format fmt = *fo ? **fo : block::Format::Raw;
    if (!*fo) {
      auto p = block::probe_format(o_.file);
      if (!p) return report(p.error());
      fmt = *p;
    }
    if (fmt == block::Format::Raw) {
      std::cerr << fmt::format("{}: This image format does not support checks\n", kProg);
      return 63;
    }
    block::qcow2::Repair mode = block::qcow2::Repair::None;
    if (o_.repair == "leaks") mode = block::qcow2::Repair::Leaks;
    else if (o_.repair == "all") mode = block::qcow2::Repair::All;
    else if (!o_.repair.empty()) return report(Error(EINVAL, "unknown repair mode '" + o_.repair + "' (leaks or all)"));
    auto acc = access(a_);
    if (!acc) return report(acc.error());
    auto rep = block::qcow2::check(o_.file, mode, acc->force_share);
    if (!rep) {
      if (o_.output == "json")
        std::cout << json{{"filename", o_.file}, {"format", "qcow2"}, {"check-errors", 1}}.dump(4) << "\n";
      cli::print_error(kProg, rep.error());
      return 1;
    }
    if (o_.output == "json") print_json(*rep, o_.file);
    else if (!o_.quiet) print_human(*rep);
    if (rep->corruptions > rep->corruptions_fixed) return 2;
    if (rep->leaks > rep->leaks_fixed) return 3;
    return 0;
  }

 private:
  AccessFlags a_;
  CheckFlags o_;
};

}  // namespace

std::unique_ptr<Verb> check_verb() { return std::make_unique<Check>(); }

}  // namespace vessel::img
